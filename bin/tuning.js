// How the long-running processes start: the Node flags and environment that only take effect when
// a process starts, so bin/ifai-lsp.js replaces such a process with one started with them
// (process.execve: same pid, same stdio) before anything else loads. Plain JavaScript; benchmarks
// start their own processes the same way. Each setting was measured:
//
// - --max-semi-space-size: V8 sizes the young generation for throughput and keeps it committed.
//   The language server and the engine hold little JavaScript data: 1 MB halved a server's memory
//   (PSS 132 → 67 MB). `ifai-lsp index` allocates short-lived strings at a high rate (chunk texts
//   and their Arrow copies): 4 MB kept its speed and 150 MB less heap than the default (RSS
//   496 → 339 MB on 10k files; bench:scale).
// - MALLOC_ARENA_MAX=2 (the processes that write the index): LanceDB's native threads each get a
//   glibc malloc arena (up to 8 per core) that keeps what it freed; indexing a 50k-file tree grew
//   the process by ~250 MB that way. Other C libraries ignore the variable.
// - MALLOC_MMAP_THRESHOLD_=65536 and MALLOC_TRIM_THRESHOLD_=131072 (the server and the engine,
//   which hold the model): glibc raises both thresholds as a process frees large blocks, after
//   which freed memory stays in the heap; llama.cpp's buffers during model load and decoding made
//   the server keep ~60 MB that a malloc_trim gave back. Fixed thresholds give large blocks back
//   when freed: RSS after bench:completion's quick trace 945 → 903 MiB, the keystroke as fast (894
//   with MALLOC_ARENA_MAX=1 as well; 2 is kept for LanceDB's writer threads in the server).
// - --liftoff-only (the processes that parse with tree-sitter): V8's optimizing compiler took
//   ~500 MB for a moment to compile the grammars' huge WebAssembly lexer functions once they got
//   hot (chunking llama.cpp's sources peaked at 750 MB RSS, 350–400 MB with the baseline compiler
//   only, which parses ~12% slower).

/** glibc malloc settings of the processes that hold the model (see above). */
const MODEL_MALLOC = { MALLOC_MMAP_THRESHOLD_: "65536", MALLOC_TRIM_THRESHOLD_: "131072" };

/** The settings for a command line (the arguments after the script), or undefined for a short command. */
export function tuningFor(args) {
  const server = !args.includes("--node-ipc") && (args.includes("--stdio") || args.some((a) => a.startsWith("--socket") || a.startsWith("--pipe")));
  if (server) return { flags: ["--max-semi-space-size=1", "--liftoff-only"], env: { MALLOC_ARENA_MAX: "2", ...MODEL_MALLOC } };
  if (args[0] === "engine") return { flags: ["--max-semi-space-size=1"], env: { MALLOC_ARENA_MAX: "2", ...MODEL_MALLOC } };
  if (args[0] === "index") return { flags: ["--max-semi-space-size=4", "--liftoff-only"], env: { MALLOC_ARENA_MAX: "2" } };
  return undefined;
}

/** What a process started with `execArgv` and `env` still lacks of `tuning`; a flag or variable the user set wins. */
export function missingTuning(tuning, execArgv, env) {
  const named = (flag) => flag.split("=")[0].replace(/^--no-/, "--");
  const own = new Set(execArgv.map(named));
  const flags = tuning.flags.filter((flag) => !own.has(named(flag)));
  const vars = Object.fromEntries(Object.entries(tuning.env).filter(([name]) => env[name] === undefined));
  return { flags, env: vars, any: flags.length > 0 || Object.keys(vars).length > 0 };
}
