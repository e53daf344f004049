// Imported before @lancedb/lancedb: its Rust side reads LANCEDB_LOG when the native module
// loads and otherwise logs warnings to stderr. Errors only, unless the user set it.
process.env.LANCEDB_LOG ??= "error";
export {};
