/**
 * A byte-level BPE vocabulary's merges as an open-addressing hash table in one Int32Array:
 * (left symbol, right symbol) → the merge's rank and the symbol it makes. Symbols are numbered
 * here: the 256 bytes first, then each merge's parts and result as they first appear.
 *
 * Every language server window on the shared engine counts tokens with one of these, so its size
 * matters: 4 MB for Qwen's 151k merges, where a Map of "a b" strings held about 13 MB of heap. It
 * is also what the counter cache stores (counterCache.ts): a window that finds it reads one file
 * instead of parsing 151k strings, and never grows its heap for them.
 */

const MAGIC = 0x4d524731; // "MRG1"
const HEADER = 4;
/** Fields per slot: left + 1 (0 = empty), right, rank, result. */
const FIELDS = 4;

export class MergeTable {
  private constructor(
    /** [MAGIC, splitter, slot count, merges] then the slots. */
    private readonly data: Int32Array,
    private readonly mask: number,
  ) {}

  /** The splitter id stored with the table (which pre-tokenizer its vocabulary uses). */
  get splitter(): number {
    return this.data[1]!;
  }

  /** Builds the table of `merges` ("a b", in rank order) over `alphabet` (a symbol per byte). */
  static build(merges: readonly string[], alphabet: readonly string[], splitter: number): MergeTable {
    let size = 1;
    // At most three quarters full (Qwen's: 58 %), so probes stay short and always end.
    while (size * 3 < merges.length * 4 + 4) size *= 2;
    const data = new Int32Array(HEADER + size * FIELDS);
    data.set([MAGIC, splitter, size, merges.length]);
    const table = new MergeTable(data, size - 1);
    const ids = new Map<string, number>();
    alphabet.forEach((symbol, byte) => ids.set(symbol, byte));
    const id = (symbol: string): number => {
      let known = ids.get(symbol);
      if (known === undefined) ids.set(symbol, (known = ids.size));
      return known;
    };
    merges.forEach((merge, rank) => {
      const space = merge.indexOf(" ", 1);
      if (space < 0) return;
      const left = merge.slice(0, space);
      const right = merge.slice(space + 1);
      const a = id(left);
      const b = id(right);
      const slot = table.find(a, b);
      // The first (lowest) rank of a pair listed twice wins, as in llama.cpp.
      if (slot < 0 || data[slot]! !== 0) return;
      data.set([a + 1, b, rank, id(left + right)], slot);
    });
    return table;
  }

  /**
   * A table from bytes `toBytes` wrote, or undefined when they are not one (a damaged or foreign
   * file): the magic, the sizes, and that at least a quarter of the slots are empty (probing
   * always ends) are checked.
   */
  static fromBytes(bytes: Uint8Array): MergeTable | undefined {
    if (bytes.byteLength < HEADER * 4 || bytes.byteLength % 4 !== 0) return undefined;
    // The bytes themselves where they are aligned (a file read whole is), else an aligned copy.
    let data: Int32Array;
    if (bytes.byteOffset % 4 === 0) data = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    else {
      data = new Int32Array(bytes.byteLength / 4);
      new Uint8Array(data.buffer).set(bytes);
    }
    const size = data[2]!;
    if (data[0] !== MAGIC || size < 1 || (size & (size - 1)) !== 0 || data.length !== HEADER + size * FIELDS) return undefined;
    let empty = 0;
    for (let slot = HEADER; slot < data.length; slot += FIELDS) {
      if (data[slot] === 0) empty++;
      else if (data[slot]! < 0 || data[slot + 1]! < 0 || data[slot + 2]! < 0 || data[slot + 3]! < 0) return undefined;
    }
    if (empty * 4 < size) return undefined;
    return new MergeTable(data, size - 1);
  }

  toBytes(): Uint8Array {
    return new Uint8Array(this.data.buffer, this.data.byteOffset, this.data.byteLength);
  }

  /** The rank of merging a with b, or -1 when no merge joins them. */
  rank(a: number, b: number): number {
    const slot = this.find(a, b);
    return slot < 0 || this.data[slot] === 0 ? -1 : this.data[slot + 2]!;
  }

  /** The symbol merging a with b makes (only for a pair that has a rank). */
  merged(a: number, b: number): number {
    return this.data[this.find(a, b) + 3]!;
  }

  /** The index of the pair's slot, or of the empty slot where it would go; -1 when neither exists. */
  private find(a: number, b: number): number {
    let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) & this.mask;
    for (let probes = 0; probes <= this.mask; probes++) {
      const at = HEADER + slot * FIELDS;
      const held = this.data[at]!;
      if (held === 0 || (held === a + 1 && this.data[at + 1] === b)) return at;
      slot = (slot + 1) & this.mask;
    }
    return -1;
  }
}
