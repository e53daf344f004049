import fs from "node:fs";
import type * as LanceDB from "@lancedb/lancedb";
import type * as Arrow from "apache-arrow";
import type { Logger } from "../../util/logger.js";
import { isLocalLocation } from "./location.js";
import { chunkSchema, filesSchema, primaryKeyOf } from "./rows.js";

/*
 * Creating, checking and recreating the index's two tables. Only the process holding the
 * folder's writer lease runs these (IndexStore.prepareWrites); they are apart from IndexStore so
 * the table lifecycle reads in one place.
 */

export interface TableSetup {
  db: LanceDB.Connection;
  arrow: typeof Arrow;
  chunksName: string;
  filesName: string;
  location: string;
  logger: Logger;
  embedding?: { dimensions: number };
}

export interface Tables {
  chunks: LanceDB.Table;
  files: LanceDB.Table;
}

/**
 * Opens a table, or undefined when there is none. Listing table names is not used to decide:
 * some S3-compatible stores answer the listing LanceDB makes with nothing, while opening works.
 */
export async function openIfPresent(db: LanceDB.Connection, name: string): Promise<LanceDB.Table | undefined> {
  try {
    return await db.openTable(name);
  } catch (error) {
    if (/was not found|not found:/i.test(error instanceof Error ? error.message : String(error))) return undefined;
    throw error;
  }
}

/** Opens both tables, creating a missing one (existOk: another process may create it at the same moment). */
export async function openOrCreateTables(setup: TableSetup): Promise<Tables> {
  const open = async (name: string, schema: Arrow.Schema): Promise<LanceDB.Table> =>
    (await openIfPresent(setup.db, name)) ?? setup.db.createEmptyTable(name, schema, { mode: "create", existOk: true });
  return { chunks: await open(setup.chunksName, chunkSchema(setup.arrow, setup.embedding)), files: await open(setup.filesName, filesSchema(setup.arrow)) };
}

/** Why the chunks table cannot be written as it is (an older layout, another vector size), if so. */
export async function outdatedSchema(chunks: LanceDB.Table, embedding: { dimensions: number } | undefined): Promise<string | undefined> {
  const schema = await chunks.schema();
  if (!schema.fields.some((f) => f.name === "id")) return "no chunk id column (written by an older version)";
  if (!schema.fields.some((f) => f.name === "body")) return "no full-text field columns (written by an older version)";
  const vector = schema.fields.find((f) => f.name === "vector");
  // Duck-typed: LanceDB may hand back Arrow classes from its own copy of apache-arrow.
  const dims = vector ? (vector.type as { listSize?: number }).listSize : undefined;
  if (embedding && dims !== embedding.dimensions) return `vector size ${dims ?? "none"}, the embedder's is ${embedding.dimensions}`;
  return undefined;
}

/**
 * Marks the merge keys as the tables' primary keys, which is what lets LanceDB see two
 * concurrent merge-inserts of the same key as a conflict (retried as an update) instead of two
 * inserts. A table created by a process that stopped before this has none yet.
 */
export async function ensurePrimaryKeys(chunks: LanceDB.Table, files: LanceDB.Table): Promise<void> {
  for (const [table, column] of [
    [chunks, "id"],
    [files, "path"],
  ] as const) {
    if (primaryKeyOf(await table.schema()) === column) continue;
    try {
      await table.setUnenforcedPrimaryKey(column);
    } catch (error) {
      // Set by another process in the meantime.
      if (primaryKeyOf(await table.schema()) !== column) throw error;
    }
  }
}

/** Drops and recreates both tables: chunks without their file records (or the reverse) would make the next pass skip files. */
export async function recreateTables(setup: TableSetup): Promise<Tables> {
  await dropTable(setup, setup.chunksName);
  await dropTable(setup, setup.filesName);
  const chunks = await setup.db.createEmptyTable(setup.chunksName, chunkSchema(setup.arrow, setup.embedding), { mode: "overwrite" });
  const files = await setup.db.createEmptyTable(setup.filesName, filesSchema(setup.arrow), { mode: "overwrite" });
  await ensurePrimaryKeys(chunks, files);
  return { chunks, files };
}

/** Drops a table; one LanceDB cannot open is removed from disk for a local index. */
async function dropTable(setup: TableSetup, name: string): Promise<void> {
  try {
    await setup.db.dropTable(name);
    return;
  } catch (error) {
    setup.logger.debug({ err: error, table: name }, "dropTable failed");
  }
  if (isLocalLocation(setup.location)) {
    const dir = `${setup.location.replace(/^file:\/\//, "")}/${name}.lance`;
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
