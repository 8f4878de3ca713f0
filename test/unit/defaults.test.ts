import { describe, expect, it } from 'vitest';
import { apply_patch } from 'jsonpatch';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { admissionReview, deps, modelMatch, route } from '../helpers.js';
import type { AdmissionReviewRequest, KubeObject } from '../../src/kube/types.js';

function mutate(input: AdmissionReviewRequest, d = deps()) {
  const { review: out, verdict } = review(input, 'mutate', d);
  const ops = out.response.patch ? JSON.parse(Buffer.from(out.response.patch, 'base64').toString('utf8')) : [];
  const patched = ops.length ? apply_patch(structuredClone(input.request.object) as KubeObject, ops) : input.request.object;
  return { out, verdict, ops, patched: patched as KubeObject };
}

const twoLevels = [
  { name: 'openai', priority: 0 },
  { name: 'anthropic', priority: 1 },
];

describe('AIGatewayRoute defaults on /mutate', () => {
  it('writes timeouts.request 60s and modelsCreatedAt (review time on CREATE) as explicit operations, with warnings', () => {
    const input = admissionReview(route([{ name: 'chat', matches: modelMatch('gpt-5'), backendRefs: twoLevels }]));
    const { out, ops, patched, verdict } = mutate(input);
    expect(out.response.patchType).toBe('JSONPatch');
    expect(ops).toEqual([
      { op: 'add', path: '/spec/rules/0/timeouts', value: {} },
      { op: 'add', path: '/spec/rules/0/timeouts/request', value: '60s' },
      { op: 'add', path: '/spec/rules/0/modelsCreatedAt', value: '2026-11-23T12:00:00Z' },
    ]);
    expect((patched.spec as { rules: unknown[] }).rules[0]).toEqual({
      name: 'chat',
      matches: modelMatch('gpt-5'),
      backendRefs: twoLevels,
      timeouts: { request: '60s' },
      modelsCreatedAt: '2026-11-23T12:00:00Z',
    });
    // The full text stays in the verdict (log, check); the answer carries one counted line per object.
    expect(verdict.findings.map((f) => f.message)).toEqual([
      'spec.rules[0] ("chat"): wrote timeouts.request: 60s, the request timeout the controller applies when it is unset (set it yourself to choose another value)',
      'spec.rules[0] ("chat"): wrote modelsCreatedAt: 2026-11-23T12:00:00Z (the time of this request), which the controller would otherwise report for these models without showing it',
    ]);
    expect(out.response.warnings).toEqual(['[defaults] wrote timeouts.request: 60s on 1 rule, modelsCreatedAt on 1 rule']);
    // Mutating the result again gives no patch.
    const again = mutate(admissionReview(patched));
    expect(again.out.response.patch).toBeUndefined();
  });

  it("uses the old object's creationTimestamp on UPDATE and never overrides user values", () => {
    const old = { ...route([{ backendRefs: twoLevels }]), metadata: { name: 'chat', namespace: 'team-a', creationTimestamp: '2025-01-02T03:04:05Z' } };
    const obj = route([
      { backendRefs: twoLevels, timeouts: { backendRequest: '10s' } },
      { backendRefs: twoLevels, timeouts: { request: '2m' }, modelsCreatedAt: '2024-05-05T00:00:00Z' },
    ]);
    const { ops } = mutate(admissionReview(obj, 'UPDATE', old));
    expect(ops).toEqual([
      { op: 'add', path: '/spec/rules/0/timeouts/request', value: '60s' },
      { op: 'add', path: '/spec/rules/0/modelsCreatedAt', value: '2025-01-02T03:04:05Z' },
    ]);
  });

  it('writes no request timeout when backendRequest exceeds 60s (the validating policy denies with the fix)', () => {
    const { ops } = mutate(admissionReview(route([{ backendRefs: twoLevels, timeouts: { backendRequest: '90s' }, modelsCreatedAt: '2024-05-05T00:00:00Z' }])));
    expect(ops).toEqual([]);
  });

  it('the operator streamIdleTimeout default is off unless enabled, and only for rules with several priority levels', () => {
    const rules = [
      { backendRefs: twoLevels, timeouts: { request: '60s' }, modelsCreatedAt: 'x' },
      { backendRefs: [{ name: 'a' }], timeouts: { request: '60s' }, modelsCreatedAt: 'x' },
      { backendRefs: twoLevels, timeouts: { request: '20s' }, modelsCreatedAt: 'x' },
    ];
    expect(mutate(admissionReview(route(rules))).ops).toEqual([]);
    const policies = new PolicySet(ALL_POLICIES, { 'default-stream-idle-timeout': { enabled: true, params: { value: '30s' } } });
    const { ops, out, verdict } = mutate(admissionReview(route(rules)), deps({ policies }));
    // Rule 2's 20s request would make a 30s idle timeout unable to fire: left alone.
    expect(ops).toEqual([{ op: 'add', path: '/spec/rules/0/streamIdleTimeout', value: '30s' }]);
    expect(verdict.findings.map((f) => f.message)).toEqual([
      "spec.rules[0] (unnamed): wrote streamIdleTimeout: 30s (the operator's default for rules with 2 priority levels), so a silent model is failed over; set streamIdleTimeout yourself to choose another value",
    ]);
    expect(out.response.warnings).toEqual(['[default-stream-idle-timeout] wrote streamIdleTimeout: 30s on 1 rule']);
  });

  it('the operator default is written and reported exactly as configured', () => {
    const policies = new PolicySet(ALL_POLICIES, { 'default-stream-idle-timeout': { enabled: true, params: { value: '1m' } } });
    const { ops, out, verdict } = mutate(admissionReview(route([{ backendRefs: twoLevels, timeouts: { request: '5m' }, modelsCreatedAt: 'x' }])), deps({ policies }));
    expect(ops).toEqual([{ op: 'add', path: '/spec/rules/0/streamIdleTimeout', value: '1m' }]);
    expect(verdict.findings[0]!.message).toContain('wrote streamIdleTimeout: 1m (the operator');
    expect(out.response.warnings).toEqual(['[default-stream-idle-timeout] wrote streamIdleTimeout: 1m on 1 rule']);
  });

  it('audit mode writes nothing', () => {
    const policies = new PolicySet(ALL_POLICIES, { 'default-request-timeout': { mode: 'audit' }, 'default-models-created-at': { enabled: false } });
    const { out, verdict } = mutate(admissionReview(route([{ backendRefs: twoLevels }])), deps({ policies }));
    expect(out.response).toEqual({ uid: out.response.uid, allowed: true });
    expect(verdict.findings.map((f) => [f.policy, f.mode])).toEqual([['default-request-timeout', 'audit']]);
  });
});
