import { describe, expect, it } from 'vitest';
import { Counter, Histogram, Registry } from 'prom-client';
import { TallyCounter, TallyHistogram } from '../../src/observe/tally.js';

const BUCKETS = [0.0001, 0.001, 0.01, 0.1, 1];
const VALUES = [0.00005, 0.0001, 0.0003, 0.002, 0.002, 0.5, 3, 0];

describe('tally metrics: the exposition of prom-client for the same updates (issue 19)', () => {
  it('a TallyHistogram prints the lines a prom-client Histogram prints, label set by label set', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tally = new TallyHistogram({ name: 'h_seconds', help: 'Time, by endpoint.', labelNames: ['endpoint'], buckets: BUCKETS, registers: [ours] });
    const reference = new Histogram({ name: 'h_seconds', help: 'Time, by endpoint.', labelNames: ['endpoint'], buckets: BUCKETS, registers: [theirs] });
    VALUES.forEach((v, i) => {
      const endpoint = i % 3 === 0 ? 'mutate' : 'validate';
      tally.observe(endpoint, () => ({ endpoint }), v);
      reference.observe({ endpoint }, v);
    });
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('h_seconds_bucket{le="0.001",endpoint="validate"} 3\n');
    expect(text).toContain('h_seconds_count{endpoint="mutate"} 3\n');
    ours.resetMetrics();
    expect(await ours.metrics()).toBe('# HELP h_seconds Time, by endpoint.\n# TYPE h_seconds histogram\n');
  });

  it('a TallyCounter prints the totals a prom-client Counter prints, and keeps counting after a scrape', async () => {
    const ours = new Registry();
    const theirs = new Registry();
    const tally = new TallyCounter({ name: 'c_total', help: 'Things, by policy and mode.', labelNames: ['policy', 'mode'], registers: [ours] });
    const reference = new Counter({ name: 'c_total', help: 'Things, by policy and mode.', labelNames: ['policy', 'mode'], registers: [theirs] });
    const updates: Array<[string, string]> = [['a', 'warn'], ['b', 'deny'], ['a', 'warn'], ['a', 'deny']];
    for (const [policy, mode] of updates) {
      tally.inc(`${policy}|${mode}`, () => ({ policy, mode }));
      reference.inc({ policy, mode });
    }
    expect(await ours.metrics()).toBe(await theirs.metrics());
    tally.inc('a|warn', () => ({ policy: 'a', mode: 'warn' }), 3);
    reference.inc({ policy: 'a', mode: 'warn' }, 3);
    const text = await ours.metrics();
    expect(text).toBe(await theirs.metrics());
    expect(text).toContain('c_total{policy="a",mode="warn"} 5\n');
  });

  it('labels are built once per key, on its first update', () => {
    const tally = new TallyCounter({ name: 'k_total', help: 'Keys.', labelNames: ['k'], registers: [new Registry()] });
    let built = 0;
    for (let i = 0; i < 5; i++) tally.inc('x', () => (built++, { k: 'x' }));
    expect(built).toBe(1);
  });
});
