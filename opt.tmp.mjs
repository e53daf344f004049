import "./dist/index/store/lancedbEnv.js";
import * as lancedb from "@lancedb/lancedb";
import fs from "node:fs";
const [src, every] = [process.argv[2], Number(process.argv[3])];
const dst = `/tmp/opt-probe-${every}`; fs.rmSync(dst, {recursive:true, force:true});
const sdb = await lancedb.connect(src); const st = await sdb.openTable("chunks_lexical");
const db = await lancedb.connect(dst, { session: new lancedb.Session(BigInt(128*2**20), BigInt(32*2**20)) });
const hwm = () => (Number(fs.readFileSync("/proc/self/status","utf8").match(/VmHWM:\s+(\d+)/)[1])/1024)|0;
const rss = () => (process.memoryUsage().rss/2**20)|0;
let t; let n = 0; let sinceOpt = 0; let optMs = 0; const t0 = Date.now();
const fts = (f) => lancedb.Index.fts({ baseTokenizer: "simple", lowercase: true, stem: f === "body", language: "English", removeStopWords: false, asciiFolding: true, withPosition: false });
const optimize = async () => { const o0 = Date.now(); await t.optimize({ cleanupOlderThan: new Date(Date.now() - 300000) }); optMs += Date.now()-o0; console.log("optimize at", n, "ms", Date.now()-o0, "rss", rss(), "hwm", hwm()); };
for await (const batch of st.query().select(["id","path","start_line","start_col","end_line","end_col","language","symbol","kind","text","symbols","body","name","signature","hash","model"])) {
  const rows = batch.toArray().map(r => ({...r}));
  for (let i = 0; i < rows.length; i += 3000) {
    const part = rows.slice(i, i+3000);
    if (!t) { t = await db.createTable("c", part); for (const f of ["body","name","signature","symbols"]) await t.createIndex(f, { config: fts(f) }); }
    else await t.add(part);
    n += part.length; sinceOpt += part.length;
    if (every > 0 && sinceOpt >= every) { sinceOpt = 0; await optimize(); }
  }
  if (n >= 520000) break;
}
console.log("rows", n, "before final rss", rss(), "hwm", hwm());
await optimize();
console.log("total s", (Date.now()-t0)/1000, "optimize s", optMs/1000, "HWM", hwm());
const r0 = Date.now(); const res = await t.query().fullTextSearch("parse config").limit(10).toArray(); console.log("query ms", Date.now()-r0, res.length);
