/** A small least-recently-used map: reads refresh an entry, writes past the capacity drop the oldest. */
export class LruCache<K, V> {
  private readonly map = new Map<K, V>();

  constructor(private capacity: number) {}

  get size(): number {
    return this.map.size;
  }

  get(key: K): V | undefined {
    const value = this.map.get(key);
    if (value === undefined) return undefined;
    this.map.delete(key);
    this.map.set(key, value);
    return value;
  }

  set(key: K, value: V): void {
    if (this.capacity <= 0) return;
    this.map.delete(key);
    this.map.set(key, value);
    while (this.map.size > this.capacity) this.map.delete(this.map.keys().next().value as K);
  }

  delete(key: K): void {
    this.map.delete(key);
  }

  resize(capacity: number): void {
    this.capacity = capacity;
    while (this.map.size > Math.max(0, capacity)) this.map.delete(this.map.keys().next().value as K);
  }

  clear(): void {
    this.map.clear();
  }
}
