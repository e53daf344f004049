import fs from "node:fs";
import { renderConfigurationDoc } from "../config/docs.js";

// Rewrites docs/configuration.md from the schema (npm run docs:config).
const target = new URL("../../docs/configuration.md", import.meta.url);
fs.writeFileSync(target, renderConfigurationDoc());
process.stdout.write(`wrote ${target.pathname}\n`);
