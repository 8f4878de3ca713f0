/**
 * A bounded least-recently-used map: compiled CEL programs are cached by expression text, and a hostile stream of
 * distinct expressions must not grow the cache without bound. A Map keeps insertion order, so re-inserting on a hit
 * makes the first key the least recently used.
 */
export class Lru<K, V> {
  private readonly entries = new Map<K, V>();
  /** The most recently used key: a hit on it leaves the order as it is (most reviews use the same expressions). */
  private newest: K | undefined;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`Lru capacity must be a positive integer, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(key: K): V | undefined {
    const value = this.entries.get(key);
    if (value === undefined) return undefined;
    if (key !== this.newest) {
      this.entries.delete(key);
      this.entries.set(key, value);
      this.newest = key;
    }
    return value;
  }

  set(key: K, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, value);
    this.newest = key;
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as K);
  }

  /** The cached value, or `compute()` stored under `key`. */
  getOrCompute(key: K, compute: () => V): V {
    const hit = this.get(key);
    if (hit !== undefined) return hit;
    const value = compute();
    this.set(key, value);
    return value;
  }

  has(key: K): boolean {
    return this.entries.has(key);
  }
}
