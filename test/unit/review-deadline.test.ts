import { describe, expect, it } from 'vitest';
import { definePolicy } from '../../src/review/policy.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { evaluateSliced, review } from '../../src/review/review.js';
import { AIGATEWAYROUTE } from '../../src/model/kinds.js';
import { LargeReviewGate } from '../../src/server/large-reviews.js';
import type { ReviewMetrics } from '../../src/review/deps.js';
import { admissionReview, deps, route } from '../helpers.js';

/** A fake clock: policies advance it by what they "cost", so the deadline is tested without any real time passing. */
function fakeClock() {
  let ms = 0;
  return { clock: () => ms, advance: (by: number) => (ms += by) };
}

const timed = (id: string, onError: 'deny' | 'allow-with-warning', work: () => void, log?: string[]) =>
  definePolicy({
    id,
    description: 'takes time',
    endpoint: 'validate',
    match: { kinds: [AIGATEWAYROUTE], operations: ['CREATE'] },
    defaultMode: 'warn',
    onError,
    paramsSchema: {},
    defaultParams: {},
    evaluate() {
      log?.push(id);
      work();
      return { findings: [{ path: 'spec', message: `${id} looked` }] };
    },
  });

describe('the review deadline', () => {
  it('abandons the policy that overruns and those not yet run, each under its onError, named and counted', () => {
    const t = fakeClock();
    const abandoned: string[] = [];
    const metrics = { reviewed() {}, finding() {}, policyError() {}, observed() {}, policyAbandoned: (p: string) => abandoned.push(p) } satisfies ReviewMetrics;
    const warnings: object[] = [];
    const logger = { debug() {}, info() {}, error() {}, warn: (o: object) => warnings.push(o) };
    const policies = new PolicySet([
      timed('quick', 'allow-with-warning', () => t.advance(1500)),
      timed('slow', 'allow-with-warning', () => t.advance(1000)),
      timed('strict', 'deny', () => t.advance(1)),
    ]);
    const input = admissionReview(route([{ backendRefs: [{ name: 'a' }] }]));
    const { verdict, review: out } = review(input, 'validate', deps({ policies, clock: t.clock, deadlineMs: 2000, metrics, logger }));
    expect(verdict.findings.map((f) => [f.policy, f.mode, f.message])).toEqual([
      ['quick', 'warn', 'quick looked'],
      ['slow', 'warn', `did not finish within the review's deadline of 2000ms; the object was not checked by it (onError: allow-with-warning). The log has uid ${input.request.uid}`],
      [
        'strict',
        'deny',
        `was not run: the review's deadline of 2000ms had passed; the request is refused because this policy fails closed (onError: deny). Retry, or raise server.reviewDeadlineMs; the log has uid ${input.request.uid}`,
      ],
    ]);
    expect(out.response.allowed).toBe(false);
    expect(abandoned).toEqual(['slow', 'strict']);
    expect(warnings).toEqual([
      { event: 'policy_abandoned', uid: input.request.uid, policy: 'slow', deadlineMs: 2000, elapsedMs: 2500, overran: true },
      { event: 'policy_abandoned', uid: input.request.uid, policy: 'strict', deadlineMs: 2000, elapsedMs: 2500, overran: false },
    ]);
  });

  it('runs every policy within the deadline', () => {
    const t = fakeClock();
    const policies = new PolicySet([timed('a', 'deny', () => t.advance(999)), timed('b', 'deny', () => t.advance(1000))]);
    const { verdict } = review(admissionReview(route([{ backendRefs: [{ name: 'a' }] }])), 'validate', deps({ policies, clock: t.clock, deadlineMs: 2000 }));
    expect(verdict.findings.map((f) => f.message)).toEqual(['a looked', 'b looked']);
  });

  it('gives the event loop back between policies once a slice of work has run', async () => {
    const t = fakeClock();
    const order: string[] = [];
    const policies = new PolicySet([
      timed('first', 'deny', () => t.advance(5), order),
      timed('second', 'deny', () => t.advance(30), order),
      timed('third', 'deny', () => t.advance(5), order),
    ]);
    const input = admissionReview(route([{ backendRefs: [{ name: 'a' }] }]));
    setImmediate(() => order.push('other request'));
    await evaluateSliced(input.request, 'validate', deps({ policies, clock: t.clock }), undefined, 20);
    // 5 ms: keeps going; 35 ms: past the 20 ms slice, so the waiting callback runs before the third policy.
    expect(order).toEqual(['first', 'second', 'other request', 'third']);
  });

  it('answers at once, with no promise, when every policy fits in the first slice', () => {
    const t = fakeClock();
    const policies = new PolicySet([timed('first', 'deny', () => t.advance(5)), timed('second', 'deny', () => t.advance(14))]);
    const verdict = evaluateSliced(admissionReview(route([{ backendRefs: [{ name: 'a' }] }])).request, 'validate', deps({ policies, clock: t.clock }), undefined, 20);
    expect(verdict).not.toBeInstanceOf(Promise);
    expect((verdict as Awaited<typeof verdict>).findings.map((f) => f.message)).toEqual(['first looked', 'second looked']);
  });
});

describe('large reviews run a few at a time', () => {
  it('makes the third wait until one of two finishes', async () => {
    const gate = new LargeReviewGate(() => 2);
    const first = await gate.acquire();
    await gate.acquire();
    let third = false;
    const waiting = gate.acquire().then((release) => {
      third = true;
      return release;
    });
    await Promise.resolve();
    expect([third, gate.load()]).toEqual([false, { running: 2, waiting: 1 }]);
    first();
    first(); // releasing twice frees one slot, not two
    (await waiting)();
    expect([third, gate.load()]).toEqual([true, { running: 1, waiting: 0 }]);
  });
});
