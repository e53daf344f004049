import type * as LanceDB from "@lancedb/lancedb";

/*
 * What an index that was written without coordination (older versions, a crash between the
 * chunk and file-record commits) can hold, found from the tables themselves: chunk rows stored
 * more than once, rows of files that have no "indexed" record, records whose chunk count does not
 * match the rows, and a file recorded twice. The answer is the set of paths to forget; the next
 * pass reads those files again, so the rest of the index stays as it is (no full rebuild).
 */

export interface Damage {
  /** Files whose rows and record must go (the next pass indexes them again). */
  paths: string[];
  duplicateRows: number;
  staleRows: number;
  miscountedFiles: number;
  duplicateRecords: number;
}

/** Reads the key columns of both tables and names the files whose rows are not exactly right. */
export async function findDamage(chunks: LanceDB.Table, files: LanceDB.Table): Promise<Damage> {
  const rows = (await chunks.query().select(["id", "path"]).toArray()) as Array<{ id: string; path: string }>;
  const records = (await files.query().select(["path", "status", "chunks"]).toArray()) as Array<{ path: string; status: string; chunks: number }>;
  const damaged = new Set<string>();
  const damage: Damage = { paths: [], duplicateRows: 0, staleRows: 0, miscountedFiles: 0, duplicateRecords: 0 };

  const recordOf = new Map<string, { status: string; chunks: number }>();
  for (const r of records) {
    if (recordOf.has(r.path)) {
      damage.duplicateRecords++;
      damaged.add(r.path);
    }
    recordOf.set(r.path, { status: r.status, chunks: Number(r.chunks) });
  }
  const seen = new Set<string>();
  const rowsOf = new Map<string, number>();
  for (const row of rows) {
    rowsOf.set(row.path, (rowsOf.get(row.path) ?? 0) + 1);
    if (seen.has(row.id)) {
      damage.duplicateRows++;
      damaged.add(row.path);
    }
    seen.add(row.id);
    const record = recordOf.get(row.path);
    if (!record || record.status !== "indexed") {
      damage.staleRows++;
      damaged.add(row.path);
    }
  }
  for (const [path, record] of recordOf) {
    if (record.status === "indexed" && (rowsOf.get(path) ?? 0) !== record.chunks) {
      damage.miscountedFiles++;
      damaged.add(path);
    }
  }
  damage.paths = [...damaged].sort();
  return damage;
}
