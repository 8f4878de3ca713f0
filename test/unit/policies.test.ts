import { describe, expect, it } from 'vitest';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { admissionReview, deps, fallingOverWorld, modelMatch, route, warningsInFull } from '../helpers.js';
import { definePolicy } from '../../src/review/policy.js';
import { AIGATEWAYROUTE } from '../../src/model/kinds.js';

const twoLevels = [
  { name: 'openai', priority: 0, weight: 1 },
  { name: 'anthropic', priority: 1, weight: 1 },
];

function validate(rules: unknown[], d = deps({ world: fallingOverWorld() })) {
  return review(admissionReview(route(rules)), 'validate', d);
}

describe('stream-idle-within-request', () => {
  it('denies an idle timeout at the implied 60s bound, naming the rule, values, bound and fix', () => {
    const { review: out } = validate([{ name: 'chat', matches: modelMatch('gpt-5'), streamIdleTimeout: '60s', backendRefs: twoLevels }]);
    expect(out.response.allowed).toBe(false);
    expect(out.response.status).toEqual({
      code: 403,
      reason: 'Forbidden',
      message:
        '[stream-idle-within-request] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 1m0s is not shorter than the 1m0s bound on one attempt ' +
        "(timeouts.request unset: the controller's implied 1m0s; no timeouts.backendRequest), so the idle timer can never fire first and a silent model is never failed over. " +
        'Fix: set streamIdleTimeout below 1m0s (e.g. 30s), or set timeouts.request above 1m0s.',
    });
  });

  it('uses backendRequest as the bound when set', () => {
    const { verdict } = validate([{ streamIdleTimeout: '20s', timeouts: { request: '60s', backendRequest: '20s' }, backendRefs: twoLevels }]);
    expect(verdict.findings.map((f) => [f.policy, f.path, f.message])).toEqual([
      [
        'stream-idle-within-request',
        'spec.rules[0].streamIdleTimeout',
        'spec.rules[0] (unnamed): streamIdleTimeout 20s is not shorter than the 20s bound on one attempt (timeouts.backendRequest 20s, which Envoy Gateway programs as the route timeout when set), ' +
          'so the idle timer can never fire first and a silent model is never failed over. Fix: set streamIdleTimeout below 20s (e.g. 10s), or raise timeouts.backendRequest above 20s.',
      ],
    ]);
  });

  it('allows an idle timeout below the request timeout', () => {
    const { review: out } = validate([{ streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: twoLevels }]);
    expect(out.response).toEqual({ uid: out.response.uid, allowed: true });
  });

  it('does not judge against a disabled (0s) bound', () => {
    const { verdict } = validate([{ streamIdleTimeout: '5m', timeouts: { request: '0s' }, backendRefs: twoLevels }]);
    expect(verdict.findings).toEqual([]);
  });
});

describe('stream-idle-zero', () => {
  it('warns that 0s disables the idle timeout', () => {
    const { review: out, verdict } = validate([{ name: 'chat', streamIdleTimeout: '0s', timeouts: { request: '30s' }, backendRefs: twoLevels }]);
    expect(out.response.warnings).toEqual([
      '[stream-idle-zero] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 30s request bound and ne… (full text: aigw-admission explain --route team-a/chat)',
    ]);
    expect({ uid: out.response.uid, allowed: out.response.allowed, warnings: warningsInFull(verdict) }).toEqual({
      uid: out.response.uid,
      allowed: true,
      warnings: [
        '[stream-idle-zero] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 30s request bound and never failed over. ' +
          'Fix: set a positive streamIdleTimeout below 30s (e.g. 30s for a first-token budget), or remove the field.',
      ],
    });
  });
});

describe('backend-request-within-implied-request', () => {
  it('denies backendRequest above 60s with request unset', () => {
    const { verdict } = validate([{ name: 'slow', timeouts: { backendRequest: '2m' }, backendRefs: twoLevels }]);
    expect(verdict.allowed).toBe(false);
    expect(verdict.findings.map((f) => [f.policy, f.mode, f.path, f.message])).toEqual([
      [
        'backend-request-within-implied-request',
        'deny',
        'spec.rules[0].timeouts.backendRequest',
        'spec.rules[0] ("slow"): timeouts.backendRequest 2m0s is longer than the 1m0s request timeout the controller writes when timeouts.request is unset, so the generated HTTPRoute is rejected (backendRequest must not exceed request) and this route is never programmed. ' +
          'Fix: set timeouts.request to 2m0s or more, or lower timeouts.backendRequest to 1m0s or less.',
      ],
    ]);
  });
  it('allows backendRequest of exactly 60s, and any value when request is set', () => {
    expect(validate([{ timeouts: { backendRequest: '60s' }, backendRefs: twoLevels }]).verdict.findings).toEqual([]);
    expect(validate([{ timeouts: { request: '5m', backendRequest: '2m' }, backendRefs: twoLevels }]).verdict.findings).toEqual([]);
  });
});

describe('stream-idle-needs-fallover-target', () => {
  it('warns when every backendRef has the same (default) priority', () => {
    const { verdict } = validate([{ name: 'chat', streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: [{ name: 'a' }, { name: 'b', priority: 0 }] }]);
    expect(verdict.findings.map((f) => [f.policy, f.mode, f.message])).toEqual([
      [
        'stream-idle-needs-fallover-target',
        'warn',
        'spec.rules[0] ("chat"): streamIdleTimeout 5s is set but all 2 backendRefs have priority 0, so when the timer fires there is no next priority to fall over to: at most a retry goes to the same backends again. ' +
          'Fix: add a backendRef with priority 1 on a different provider, or remove streamIdleTimeout.',
      ],
    ]);
  });
  it('counts only refs with weight: a weight-0 ref makes no level, and a rule with two levels or none has nothing to say', () => {
    const { verdict } = validate([
      { name: 'one-left', streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: [{ name: 'a', priority: 2 }, { name: 'b', priority: 3, weight: 0 }] },
      { name: 'two-levels', streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: [{ name: 'a' }, { name: 'b', weight: 0 }, { name: 'c', priority: 1 }] },
      { name: 'all-zero', streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: [{ name: 'a', weight: 0 }, { name: 'b', weight: 0, priority: 1 }] },
      { name: 'no-idle', timeouts: { request: '30s' }, backendRefs: [{ name: 'a' }] },
    ]);
    expect(verdict.findings.filter((f) => f.policy === 'stream-idle-needs-fallover-target').map((f) => [f.path, f.message])).toEqual([
      [
        'spec.rules[0].streamIdleTimeout',
        'spec.rules[0] ("one-left"): streamIdleTimeout 5s is set but its only backendRef with weight has priority 2 (Envoy Gateway drops the one with weight 0, so its level does not exist), so when the timer fires there is no next priority to fall over to: at most a retry goes to the same backends again. ' +
          'Fix: add a backendRef with priority 3 on a different provider, or remove streamIdleTimeout.',
      ],
    ]);
  });
});

describe('httproute-limits', () => {
  const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `b${i}` }));
  const matches = (n: number) => Array.from({ length: n }, (_, i) => modelMatch(`m${i}`)[0]);

  it('denies 17 backendRefs in a rule', () => {
    const { verdict } = validate([{ name: 'big', backendRefs: refs(17) }]);
    expect(verdict.findings.map((f) => [f.path, f.message])).toEqual([
      [
        'spec.rules[0].backendRefs',
        'spec.rules[0] ("big"): 17 backendRefs, but an HTTPRoute rule holds at most 16; the generated HTTPRoute would be rejected by the API server and the route never programmed. Fix: split the models over several rules (matched by x-ai-eg-model) with at most 16 backendRefs each.',
      ],
    ]);
  });
  it('allows exactly 16 backendRefs and 64 matches', () => {
    expect(validate([{ backendRefs: refs(16), matches: matches(64) }]).verdict.findings).toEqual([]);
  });
  it('denies 65 matches in a rule and a weight over 1,000,000', () => {
    const { verdict } = validate([{ matches: matches(65), backendRefs: [{ name: 'x', weight: 1_000_001 }] }]);
    expect(verdict.findings.map((f) => f.path)).toEqual(['spec.rules[0].matches', 'spec.rules[0].backendRefs[0].weight']);
    expect(verdict.findings[1]!.message).toBe(
      'spec.rules[0] (unnamed): backendRefs[0] ("x") has weight 1000001, above the HTTPRoute maximum of 1,000,000; the generated HTTPRoute would be rejected by the API server and the route never programmed. Fix: scale the weights of this rule down proportionally so each is at most 1000000.',
    );
  });
  it('counts the catch-all rule: 127 matches fit, 128 do not', () => {
    const ok = [{ matches: matches(64) }, { matches: matches(63) }];
    expect(validate(ok).verdict.findings).toEqual([]);
    const { verdict } = validate([{ matches: matches(64) }, { matches: matches(64) }]);
    expect(verdict.findings.map((f) => [f.path, f.message])).toEqual([
      [
        'spec.rules',
        "the generated HTTPRoute would hold 129 matches (the rules' matches, one for each rule without matches, and one for the catch-all route-not-found rule), but an HTTPRoute holds at most 128; the generated HTTPRoute would be rejected by the API server and the route never programmed. Fix: remove 1 matches or move some rules to a second AIGatewayRoute.",
      ],
    ]);
  });
});

describe('duration-syntax', () => {
  it('denies every bad duration with its field path', () => {
    const { verdict } = validate([{ name: 'x', streamIdleTimeout: '5 s', timeouts: { request: 30 }, backendRefs: twoLevels }]);
    expect(verdict.findings.map((f) => [f.policy, f.path])).toEqual([
      ['duration-syntax', 'spec.rules[0].timeouts.request'],
      ['duration-syntax', 'spec.rules[0].streamIdleTimeout'],
    ]);
    expect(verdict.findings[0]!.message).toBe('spec.rules[0] ("x"): timeouts.request must be a string duration such as "30s" or "1m30s", got number 30');
  });
});

describe('review core', () => {
  it('allows unknown kinds with no patch, echoing the uid', () => {
    const input = admissionReview({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x', namespace: 'y' } });
    expect(review(input, 'mutate', deps()).review).toEqual({
      apiVersion: 'admission.k8s.io/v1',
      kind: 'AdmissionReview',
      response: { uid: input.request.uid, allowed: true },
    });
  });

  it('joins every deny message and keeps warnings alongside', () => {
    const { review: out } = validate([
      { name: 'a', streamIdleTimeout: '2m', backendRefs: twoLevels },
      { name: 'b', timeouts: { backendRequest: '90s' }, streamIdleTimeout: '0s', backendRefs: twoLevels },
    ]);
    expect(out.response.allowed).toBe(false);
    expect(out.response.status!.message.split('\n').map((l) => l.slice(0, l.indexOf(':')))).toEqual([
      '[stream-idle-within-request] spec.rules[0].streamIdleTimeout',
      '[backend-request-within-implied-request] spec.rules[1].timeouts.backendRequest',
    ]);
    expect(out.response.warnings!.map((w) => w.slice(0, w.indexOf(':')))).toEqual(['[stream-idle-zero] spec.rules[1].streamIdleTimeout']);
  });

  it('audit mode logs and counts but neither denies nor warns', () => {
    const policies = new PolicySet(ALL_POLICIES, { 'stream-idle-within-request': { mode: 'audit' } });
    const lines: object[] = [];
    const logger = { debug() {}, info: (o: object) => lines.push(o), warn() {}, error() {} };
    const { review: out, verdict } = validate([{ streamIdleTimeout: '2m', backendRefs: twoLevels }], deps({ policies, logger, world: fallingOverWorld() }));
    expect(out.response).toEqual({ uid: out.response.uid, allowed: true });
    expect(verdict.findings.map((f) => [f.policy, f.mode])).toEqual([['stream-idle-within-request', 'audit']]);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ event: 'review', allowed: true, policies: ['stream-idle-within-request'] });
    expect((lines[0] as { findings: unknown[] }).findings).toEqual([
      { policy: 'stream-idle-within-request', mode: 'audit', path: 'spec.rules[0].streamIdleTimeout', message: verdict.findings[0]!.message },
    ]);
    expect(verdict.findings[0]!.message).toMatch(/^spec\.rules\[0\] \(unnamed\): streamIdleTimeout 2m0s is not shorter than the 1m0s bound/);
  });

  it('a disabled policy does not run', () => {
    const policies = new PolicySet(ALL_POLICIES, { 'stream-idle-within-request': { enabled: false } });
    expect(validate([{ streamIdleTimeout: '2m', backendRefs: twoLevels }], deps({ policies, world: fallingOverWorld() })).review.response.allowed).toBe(true);
  });

  it('a throwing policy follows its onError and is logged with uid and policy id', () => {
    const boom = (onError: 'deny' | 'allow-with-warning') =>
      definePolicy({
        id: 'boom',
        description: 'throws',
        endpoint: 'validate',
        match: { kinds: [AIGATEWAYROUTE], operations: ['CREATE'] },
        defaultMode: 'deny',
        onError,
        paramsSchema: {},
        defaultParams: {},
        evaluate() {
          throw new Error('kaput');
        },
      });
    const errors: Array<Record<string, unknown>> = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (o: object) => errors.push(o as Record<string, unknown>) };
    const closed = validate([{ backendRefs: twoLevels }], deps({ policies: new PolicySet([boom('deny')]), logger }));
    expect(closed.review.response.allowed).toBe(false);
    expect(closed.review.response.status!.message).toBe(
      `[boom] internal error in policy boom; the request is refused because this policy fails closed (onError: deny). The webhook log has the error under uid ${closed.review.response.uid}; to admit meanwhile, set policies.boom.mode to warn or audit in the config`,
    );
    expect(errors[0]).toMatchObject({ event: 'policy_error', policy: 'boom', uid: closed.review.response.uid });
    const open = validate([{ backendRefs: twoLevels }], deps({ policies: new PolicySet([boom('allow-with-warning')]) }));
    expect(open.review.response.allowed).toBe(true);
    expect(open.review.response.warnings).toEqual([
      `[boom] internal error in policy boom; the request was not checked by it (onError: allow-with-warning). The webhook log has the error under uid ${open.review.response.uid}`,
    ]);
  });

  it('a validating policy that writes a patch fails like a throwing one, and each policy gets its own params and mode', () => {
    const seen: Array<[string, unknown, string]> = [];
    const writer = definePolicy({
      id: 'writer',
      description: 'patches on /validate',
      endpoint: 'validate',
      match: { kinds: [AIGATEWAYROUTE], operations: ['CREATE'] },
      defaultMode: 'warn',
      onError: 'allow-with-warning',
      paramsSchema: {},
      defaultParams: { n: 1 },
      evaluate(ctx) {
        seen.push(['writer', ctx.params, ctx.mode]);
        expect(ctx.patch.lookup(['kind'])).toBe('AIGatewayRoute');
        ctx.patch.set(['metadata', 'labels', 'x'], 'y');
        return {};
      },
    });
    const reader = definePolicy({ ...writer, id: 'reader', defaultMode: 'audit', defaultParams: { n: 2 }, evaluate: (ctx) => (seen.push(['reader', ctx.params, ctx.mode]), {}) });
    const errors: Array<Record<string, unknown>> = [];
    const logger = { debug() {}, info() {}, warn() {}, error: (o: object) => errors.push(o as Record<string, unknown>) };
    const out = validate([{ backendRefs: twoLevels }], deps({ policies: new PolicySet([writer, reader]), logger }));
    expect(out.review.response.allowed).toBe(true);
    expect(out.review.response.warnings).toEqual([
      `[writer] internal error in policy writer; the request was not checked by it (onError: allow-with-warning). The webhook log has the error under uid ${out.review.response.uid}`,
    ]);
    expect((errors[0]!.err as { message: string }).message).toBe('a validating policy cannot write a patch (only endpoint: mutate policies can)');
    expect(seen).toEqual([['writer', { n: 1 }, 'warn'], ['reader', { n: 2 }, 'audit']]);
  });

  it('never judges an UPDATE of an object being deleted (finalizer removal must go through)', () => {
    const bad = route([{ streamIdleTimeout: '2m', backendRefs: twoLevels }]);
    const deleting = { ...bad, metadata: { ...bad.metadata, deletionTimestamp: '2026-11-23T12:00:00Z', finalizers: [] } };
    const input = admissionReview(deleting, 'UPDATE', { ...bad, metadata: { ...bad.metadata, finalizers: ['aigateway.envoyproxy.io/finalizer'] } });
    expect(review(input, 'validate', deps()).review.response).toEqual({ uid: input.request.uid, allowed: true });
    expect(review(input, 'mutate', deps()).review.response).toEqual({ uid: input.request.uid, allowed: true });
    expect(review(admissionReview(bad, 'UPDATE', bad), 'validate', deps()).review.response.allowed).toBe(false);
  });

  it('validates DELETE and UPDATE shapes without crashing on missing fields', () => {
    const old = route([{ backendRefs: twoLevels }]);
    expect(review(admissionReview(null, 'DELETE', old), 'validate', deps()).review.response.allowed).toBe(true);
    const weird = { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', metadata: { name: 'w' }, spec: { rules: [null, 'x', { backendRefs: 'no' }] } };
    expect(review(admissionReview(weird as never, 'UPDATE', old), 'validate', deps()).review.response.allowed).toBe(true);
  });
});
