import fs from "node:fs";
import { renderVscodeManifest } from "./vscodeManifest.js";

// Rewrites the generated parts of clients/vscode/package.json from the schema (npm run manifest:vscode).
const target = new URL("../../clients/vscode/package.json", import.meta.url);
fs.writeFileSync(target, renderVscodeManifest(fs.readFileSync(target, "utf8")));
process.stdout.write(`wrote ${target.pathname}\n`);
