import type * as LanceDB from "@lancedb/lancedb";

/**
 * Whether this process has been the only one to commit to the tables since it checked them
 * (IndexStore.prepareWrites repairs rows without records on its first call). While that holds, a
 * file that has no record has no rows either, so its new rows can be appended instead of merged:
 * a merge-insert joins its rows against the whole table's ids, which made every batch of a large
 * first index slower than the last (bench:scale: 600 files/s at the start of a 50k-file tree,
 * 170 at its end). Any commit by another process (the table versions moved without this one
 * committing) ends it for good; merging is always correct, only slower.
 */
export class SoleWriter {
  private versions: { chunks: number; files: number } | undefined;

  get sole(): boolean {
    return this.versions !== undefined;
  }

  /** The tables were just checked (or created) by this process. */
  async checked(chunks: LanceDB.Table, files: LanceDB.Table): Promise<void> {
    this.versions = { chunks: await chunks.version(), files: await files.version() };
  }

  /** After moving to the newest versions: did anyone else commit since this process's last commit? */
  async verify(chunks: LanceDB.Table, files: LanceDB.Table): Promise<void> {
    if (!this.versions) return;
    if ((await chunks.version()) !== this.versions.chunks || (await files.version()) !== this.versions.files) this.versions = undefined;
  }

  /** This process committed: the versions it made are its own. */
  async committed(chunks: LanceDB.Table | undefined, files: LanceDB.Table | undefined): Promise<void> {
    if (!this.versions || !chunks || !files) return;
    await this.checked(chunks, files);
  }

  forget(): void {
    this.versions = undefined;
  }
}
