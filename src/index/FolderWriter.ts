import os from "node:os";
import type { Logger } from "../util/logger.js";
import type { FileRecord, IndexStore } from "./store/IndexStore.js";
import { isLocalLocation } from "./store/location.js";
import { WriterLease, type LeaseHolder } from "./store/WriterLease.js";

/*
 * How one process writes a folder's index that other processes (the servers of other editor
 * windows, `ifai-lsp index`) may write too: every write runs while holding the folder's writer
 * lease, after the store is prepared (tables created or repaired) and the file records are
 * re-read if another process changed them. Kept apart from FolderIndex, which decides what to
 * write; this decides when it may.
 */

export interface FolderWriterOptions {
  location: string;
  logger: Logger;
  /** What this process is, in the lock file ("ifai-lsp server", "ifai-lsp index"). */
  label: string;
  /** Another process holds the lease: `who` says which, for a status message. */
  onWait: (who: string, holder: LeaseHolder | undefined) => void;
}

export class FolderWriter {
  /** The single-writer lease of a local index (object storage has no lock files: see docs). */
  private readonly lease: WriterLease | undefined;
  /** The files table version the records were loaded at; other processes' commits move it. */
  private recordsVersion: number | undefined;

  constructor(private readonly options: FolderWriterOptions) {
    if (isLocalLocation(options.location)) {
      this.lease = new WriterLease(options.location.replace(/^file:\/\//, ""), { logger: options.logger, label: options.label });
    }
  }

  /** The store's pre-commit check: throws once the lease went to another process. */
  beforeWrite(): (() => void) | undefined {
    const lease = this.lease;
    return lease ? () => lease.assertHeld() : undefined;
  }

  /**
   * Runs `work` holding the lease, after another process's pass has ended; `records` receives
   * the file records when they changed since the last load.
   */
  async run<T>(store: IndexStore, signal: AbortSignal, records: (files: Map<string, FileRecord>) => void, work: () => Promise<T>): Promise<T> {
    if (this.lease && !this.lease.tryAcquire()) {
      const holder = this.lease.holder();
      const who = holder ? `${holder.label || "another process"} (pid ${holder.pid}${holder.hostname !== os.hostname() ? ` on ${holder.hostname}` : ""})` : "another process";
      this.options.logger.info({ holder }, "another process is writing this index; waiting for it");
      this.options.onWait(who, holder);
      await this.lease.acquire(signal);
      this.options.logger.info("index writer lease acquired");
    }
    try {
      const prepared = await store.prepareWrites();
      if (prepared.recreated || prepared.repaired) this.recordsVersion = undefined;
      await this.loadRecords(store, records);
      return await work();
    } finally {
      this.lease?.release();
    }
  }

  /** Runs `work` holding the lease if it is free now; false without running it when it is not. */
  async runIfFree(store: IndexStore, work: () => Promise<void>): Promise<boolean> {
    if (this.lease && !this.lease.tryAcquire()) return false;
    try {
      await store.prepareWrites();
      await work();
      return true;
    } finally {
      this.lease?.release();
    }
  }

  /** Loads the file records when the files table moved since they were read (another process wrote). */
  async loadRecords(store: IndexStore, records: (files: Map<string, FileRecord>) => void): Promise<void> {
    const version = await store.filesVersion();
    if (version !== undefined && version === this.recordsVersion) return;
    records(await store.loadFiles());
    this.recordsVersion = version;
  }

  /** The records must be read again before the next write (the lease was lost, the store reopened). */
  forgetRecords(): void {
    this.recordsVersion = undefined;
  }

  release(): void {
    this.lease?.release();
  }
}
