import { describe, expect, it } from 'vitest';
import { definePolicy, type Policy } from '../../src/review/policy.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { review } from '../../src/review/review.js';
import { AIGATEWAYROUTE } from '../../src/model/kinds.js';
import { admissionReview, deps, route } from '../helpers.js';
import { MemoryWorld } from '../../src/world/world.js';
import { WORLD_KEYS } from '../../src/model/kinds.js';

/** A validating policy on route CREATEs whose judgement is `evaluate`. */
const policyOf = (id: string, evaluate: Policy<Record<string, never>>['evaluate']) =>
  definePolicy({
    id,
    description: 'reads the shared model',
    endpoint: 'validate',
    match: { kinds: [AIGATEWAYROUTE], operations: ['CREATE'] },
    defaultMode: 'warn',
    onError: 'allow-with-warning',
    paramsSchema: {},
    defaultParams: {},
    evaluate,
  });

describe('the per-review memo policies share', () => {
  it('computes once per key within a review, again in the next review, and separately per scope and key', () => {
    const computed: string[] = [];
    const reader = (id: string) =>
      policyOf(id, ({ object, memo }) => {
        const model = memo!('model', object!, () => (computed.push(`model of ${object!.metadata!.name}`), { rules: 1 }));
        const other = memo!('other', object!, () => (computed.push('other'), 2));
        return { findings: [{ path: '', message: `${id} saw ${model.rules + other}` }] };
      });
    const d = deps({ policies: new PolicySet([reader('a'), reader('b'), reader('c')]) });

    const first = review(admissionReview(route([], 'one')), 'validate', d);
    expect(computed).toEqual(['model of one', 'other']);
    expect(first.review.response.warnings).toEqual(['[a] a saw 3', '[b] b saw 3', '[c] c saw 3']);

    review(admissionReview(route([], 'two')), 'validate', d);
    expect(computed).toEqual(['model of one', 'other', 'model of two', 'other']);
  });

  it('keeps one value per key when a scope is asked for several objects in turn (a BackendTrafficPolicy reaching routes)', () => {
    const computed: string[] = [];
    const routes = [{ name: 'r1' }, { name: 'r2' }, { name: 'r3' }];
    const walker = (id: string) =>
      policyOf(id, ({ memo }) => {
        const seen = [...routes, routes[0]!, routes[2]!].map((r) => memo!('model', r, () => (computed.push(r.name), `model ${r.name}`)));
        return { findings: [{ path: '', message: seen.join(', ') }] };
      });
    const out = review(admissionReview(route([], 'one')), 'validate', deps({ policies: new PolicySet([walker('a'), walker('b')]) }));
    expect(computed).toEqual(['r1', 'r2', 'r3']);
    expect(out.review.response.warnings).toEqual(['[a] model r1, model r2, model r3, model r1, model r3', '[b] model r1, model r2, model r3, model r1, model r3']);
  });
});

describe('what the real policies share through the memo', () => {
  it('the rules and their timeouts are read once per review, by each of the six policies that read them', async () => {
    const { ALL_POLICIES } = await import('../../policies/index.js');
    const { rulesWithTimeouts } = await import('../../policies/helpers.js');
    const object = route([{ name: 'chat', timeouts: { request: '30s' }, streamIdleTimeout: '0s', backendRefs: [{ name: 'a' }] }, { timeouts: { request: 'soon' } }]);
    const computed: string[] = [];
    const asked: string[] = [];
    const values = new Map<string, unknown>();
    const memo = <K extends object, T>(scope: string, key: K, compute: (key: K, ctx: never) => T): T => {
      const k = `${scope}|${key === object ? 'route' : 'other'}`;
      asked.push(k);
      if (!values.has(k)) values.set(k, (computed.push(k), compute(key, undefined as never)));
      return values.get(k) as T;
    };
    const readers = ['stream-idle-zero', 'stream-idle-needs-fallover-target', 'stream-idle-within-request', 'backend-request-within-implied-request', 'default-request-timeout', 'default-stream-idle-timeout'];
    const read: string[] = [];
    for (const id of readers) {
      const policy = ALL_POLICIES.find((p) => p.id === id)!;
      const [computedBefore, askedBefore] = [computed.length, asked.length];
      // Neither rule is patched (rule 0 has both timeouts, rule 1's do not parse), so no patch is needed.
      policy.evaluate({ object, memo, params: policy.defaultParams } as never);
      read.push(`${id}: asked ${asked.length - askedBefore}, computed ${computed.length - computedBefore}`);
    }
    expect(computed).toEqual(['rulesWithTimeouts|route']);
    expect(read).toEqual(['stream-idle-zero: asked 1, computed 1', ...readers.slice(1).map((id) => `${id}: asked 1, computed 0`)]);
    // Only the rules whose durations parse (duration-syntax reports the other), the same list every time.
    expect(rulesWithTimeouts(object, memo).map((r) => [r.index, r.label, r.timeouts])).toEqual([[0, 'spec.rules[0] ("chat")', { request: 30_000, backendRequest: undefined, streamIdle: 0 }]]);
    expect(rulesWithTimeouts(object, memo)).toBe(rulesWithTimeouts(object, memo));
    expect(rulesWithTimeouts(object)).not.toBe(rulesWithTimeouts(object));
  });
});

describe("the review's clock (deps.now)", () => {
  it('is read only when something needs the time, and once per review however many ask', () => {
    let reads = 0;
    const now = () => (reads++, new Date('2026-11-23T12:00:00Z'));
    const lookup = policyOf('looks-up', ({ world }) => (world.list(WORLD_KEYS.backendTrafficPolicy, 'team-a'), {}));
    const timer = (id: string) => policyOf(id, (ctx) => ({ findings: [{ path: '', message: `${id} at ${ctx.now.toISOString()}` }] }));

    // A lookup in a world that has never synced needs no time (no cache-age notice to work out): no read.
    review(admissionReview(route([])), 'validate', deps({ now, policies: new PolicySet([lookup]) }));
    expect(reads).toBe(0);

    const answer = review(admissionReview(route([])), 'validate', deps({ now, policies: new PolicySet([timer('a'), timer('b')]) }));
    expect(answer.review.response.warnings).toEqual(['[a] a at 2026-11-23T12:00:00.000Z', '[b] b at 2026-11-23T12:00:00.000Z']);
    expect(reads).toBe(1);

    // A synced world: the cache-age notice reads it (10 minutes old, past the default 300 s).
    const synced = new MemoryWorld();
    synced.markSynced(new Date('2026-11-23T11:50:00Z'));
    const stale = review(admissionReview(route([])), 'validate', deps({ now, world: synced, policies: new PolicySet([lookup]) }));
    expect(reads).toBe(2);
    expect(stale.review.response.warnings).toHaveLength(1);
    expect(stale.review.response.warnings![0]).toMatch(/^\[cluster-cache\] lookups of other objects used the cluster state as last synced 10m0s ago/);
  });
});
