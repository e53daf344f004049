// Imported before @lancedb/lancedb. Lance reads these variables once, when it first needs each
// one, and keeps the value for the life of the process; a value the user set always wins.

/** Errors only: otherwise LanceDB's Rust side logs warnings to stderr. */
process.env.LANCEDB_LOG ??= "error";

/**
 * Bytes of reads a scan may queue ahead of its consumer. Lance's default is 2 GiB, sized for
 * object stores; the full-text index build scans the whole table, and on a local disk the
 * read-ahead filled with the table's text: at 1.29M chunks it was about a third of that build's
 * peak memory. 16 MiB keeps a local disk busy (bench:scale: build as fast, peak 1,269 → 842 MiB).
 */
export const IO_BUFFER_BYTES = 16 * 1024 * 1024;

/**
 * MiB of postings a full-text index builder holds before it writes a partition (Lance's
 * default is 2,048). With this bound the build of one field stays in proportion to the
 * partition, not to the table; queries read every partition and give the same top results
 * (test/indexFtsPartitions.test.ts).
 */
export const FTS_PARTITION_MIB = 64;

process.env.LANCE_DEFAULT_IO_BUFFER_SIZE ??= String(IO_BUFFER_BYTES);
process.env.LANCE_FTS_PARTITION_SIZE ??= String(FTS_PARTITION_MIB);
