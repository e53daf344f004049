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

/**
 * Reads the key columns of both tables and names the files whose rows are not exactly right.
 * The chunks table is streamed batch by batch and only a number per row is kept (a 53-bit hash of
 * its id, for finding duplicates): reading every id and path as objects held ~450 MB at 500k
 * chunks (bench:scale), on every start of a process that writes. A hash collision can only name a
 * file that is fine, which is then indexed again.
 */
export async function findDamage(chunks: LanceDB.Table, files: LanceDB.Table): Promise<Damage> {
  const damaged = new Set<string>();
  const damage: Damage = { paths: [], duplicateRows: 0, staleRows: 0, miscountedFiles: 0, duplicateRecords: 0 };

  const recordOf = new Map<string, { status: string; chunks: number }>();
  for await (const batch of files.query().select(["path", "status", "chunks"])) {
    const paths = batch.getChild("path")!;
    const statuses = batch.getChild("status")!;
    const counts = batch.getChild("chunks")!;
    for (let i = 0; i < batch.numRows; i++) {
      const path = String(paths.get(i));
      if (recordOf.has(path)) {
        damage.duplicateRecords++;
        damaged.add(path);
      }
      recordOf.set(path, { status: String(statuses.get(i)), chunks: Number(counts.get(i)) });
    }
  }
  const seen = new Set<number>();
  const rowsOf = new Map<string, number>();
  for await (const batch of chunks.query().select(["id", "path"])) {
    const ids = batch.getChild("id")!;
    const paths = batch.getChild("path")!;
    for (let i = 0; i < batch.numRows; i++) {
      const path = String(paths.get(i));
      rowsOf.set(path, (rowsOf.get(path) ?? 0) + 1);
      const key = idHash(String(ids.get(i)));
      if (seen.has(key)) {
        damage.duplicateRows++;
        damaged.add(path);
      }
      seen.add(key);
      const record = recordOf.get(path);
      if (!record || record.status !== "indexed") {
        damage.staleRows++;
        damaged.add(path);
      }
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

/** Two 32-bit FNV-1a hashes of a string (different offsets) as one safe integer of 53 bits. */
export function idHash(text: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193) ^ (b >>> 15);
  }
  return (a >>> 0) * 2 ** 21 + ((b >>> 0) >>> 11);
}
