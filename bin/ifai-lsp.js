#!/usr/bin/env node
// Entry point. Checks the Node version before loading anything: several dependencies need
// Node 22 or newer and would otherwise fail with an obscure syntax or module error.
const major = Number(process.versions.node.split(".")[0]);
if (major < 22) {
  process.stderr.write(
    `ifai-lsp needs Node.js 22 or newer; this is ${process.version}. ` +
      "Inside the repository, `npm run` scripts use the Node 24 that `npm install` puts in node_modules/.bin.\n",
  );
  process.exit(1);
}
const { main } = await import("../dist/cli/main.js");
process.exitCode = await main(process.argv.slice(2));
