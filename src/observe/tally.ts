import { Counter, type Registry } from 'prom-client';

/**
 * Metrics the review path updates on every request, kept as plain numbers per label set and handed to prom-client only
 * when scraped. prom-client validates and hashes the labels on every `inc` and `observe` (about 1 µs each, a few per
 * review); here a review adds to a number found by a string key.
 */

interface Cell<L extends string> {
  labels: Record<L, string>;
  n: number;
}

/** A counter: `inc(key, labels)` adds to the cell of `key`, created from `labels()` the first time the key is seen. */
export class TallyCounter<L extends string> {
  private readonly cells = new Map<string, Cell<L>>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; registers: Registry[] }) {
    const cells = this.cells;
    new Counter<L>({
      ...config,
      // The totals replace what the counter held: one inc per label set per scrape.
      collect() {
        this.reset();
        for (const c of cells.values()) this.inc(c.labels, c.n);
      },
    });
  }

  inc(key: string, labels: () => Record<L, string>, n = 1): void {
    const cell = this.cells.get(key);
    if (cell) cell.n += n;
    else this.cells.set(key, { labels: labels(), n });
  }

  /** `inc` by one with the labels made from `arg` (a module-level function, not a closure per call). */
  incFor<A>(key: string, labels: (arg: A) => Record<L, string>, arg: A): void {
    const cell = this.cells.get(key);
    if (cell) cell.n++;
    else this.cells.set(key, { labels: labels(arg), n: 1 });
  }
}

interface HistogramCell<L extends string> {
  labels: Record<L, string>;
  /** Observations per bucket (not cumulative); the last one is above every bound. */
  buckets: number[];
  sum: number;
  count: number;
}

/**
 * A histogram with prom-client's exposition (the same lines as its Histogram for the same observations), registered as
 * a custom metric: `get()` is all a Registry reads.
 */
export class TallyHistogram<L extends string> {
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly L[];
  private readonly bounds: readonly number[];
  private readonly cells = new Map<string, HistogramCell<L>>();

  constructor(config: { name: string; help: string; labelNames: readonly L[]; buckets: readonly number[]; registers: Registry[] }) {
    this.name = config.name;
    this.help = config.help;
    this.labelNames = config.labelNames;
    this.bounds = [...config.buckets].sort((a, b) => a - b);
    for (const r of config.registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  observe(key: string, labels: () => Record<L, string>, value: number): void {
    let cell = this.cells.get(key);
    if (!cell) this.cells.set(key, (cell = { labels: labels(), buckets: new Array<number>(this.bounds.length + 1).fill(0), sum: 0, count: 0 }));
    let i = 0;
    while (i < this.bounds.length && value > this.bounds[i]!) i++;
    cell.buckets[i]!++;
    cell.sum += value;
    cell.count++;
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ labels: object; sharedLabels: object; value: number; metricName: string }> }> {
    const values: Array<{ labels: object; sharedLabels: object; value: number; metricName: string }> = [];
    for (const cell of this.cells.values()) {
      let cumulative = 0;
      this.bounds.forEach((le, i) => {
        cumulative += cell.buckets[i]!;
        values.push({ labels: { le }, sharedLabels: cell.labels, value: cumulative, metricName: `${this.name}_bucket` });
      });
      values.push({ labels: { le: '+Inf' }, sharedLabels: cell.labels, value: cell.count, metricName: `${this.name}_bucket` });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: {}, sharedLabels: cell.labels, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.cells.clear();
  }
}

/**
 * An unlabelled gauge read on each scrape that is absent when the reading is undefined. prom-client prints an
 * unlabelled gauge with no value as 0, which for a cache age reads "fresh" before the cache has ever synced.
 */
export class OptionalGauge {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  readonly labelNames: readonly string[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    private readonly read: () => number | undefined,
    registers: Registry[],
  ) {
    for (const r of registers) r.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Array<{ labels: object; value: number }> }> {
    const value = this.read();
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: value === undefined ? [] : [{ labels: {}, value }] };
  }

  reset(): void {}
}
