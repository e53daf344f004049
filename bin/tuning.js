// How the long-running processes (the server, `ifai-lsp index`) are started, measured with
// bench:scale on a 2-core machine (plain JavaScript: bin/ifai-lsp.js applies it before anything
// else loads, and benchmarks start their own processes the same way).
//
// - MALLOC_ARENA_MAX=2: LanceDB's native threads each get a glibc malloc arena (up to 8 per core)
//   that keeps what it freed; indexing a 50k-file tree grew the process by ~250 MB that way.
//   Other C libraries ignore the variable.
// - --max-semi-space-size=4 (MiB): V8 sized the young generation for the indexing pass's rate of
//   short-lived strings (chunk texts, their Arrow copies) and kept ~150 MB more heap than the
//   live data needed (heap 200 → 75 MB, RSS 496 → 339 MB on 10k files, same speed).
// - --liftoff-only: V8's optimizing compiler (TurboFan) took ~500 MB for a moment to compile the
//   huge lexer and parser functions of the tree-sitter grammars (WebAssembly) once they got hot:
//   chunking llama.cpp's sources peaked at 750 MB RSS, 350–400 MB with the baseline compiler
//   only, which parses ~12% slower (16.2 s instead of 14.4 s for that index).

export const TUNED_ENV = { MALLOC_ARENA_MAX: "2" };
export const TUNED_NODE_FLAGS = ["--max-semi-space-size=4", "--liftoff-only"];
/** Set in the environment of a process that was started tuned, so it is not started again. */
export const TUNED_MARKER = "IFAI_LSP_TUNED";

/** Node flags for a tuned process: the user's own flags first, and a flag they set themselves wins. */
export function tunedNodeFlags(execArgv) {
  const named = (flag) => flag.split("=")[0].replace(/^--no-/, "--");
  const own = new Set(execArgv.map(named));
  return [...execArgv, ...TUNED_NODE_FLAGS.filter((flag) => !own.has(named(flag)))];
}
