import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { review } from '../../src/review/review.js';
import { definePolicy } from '../../src/review/policy.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { ConfigLoader } from '../../src/config/config.js';
import { checkObjects } from '../../src/check/check.js';
import { readManifests } from '../../src/input/manifests.js';
import { CrdSchemas } from '../../src/crd/schemas.js';
import { buildReports } from '../../src/audit/policy-report.js';
import { Metrics } from '../../src/observe/metrics.js';
import { consolidate } from '../../src/check/output.js';
import type { KubeObject } from '../../src/kube/types.js';
import { ROOT, admissionReview, deps, route } from '../helpers.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const EXEMPTIONS = join(ROOT, 'test/fixtures/check/exemptions');
const IDLE_ZERO_MESSAGE =
  'spec.rules[0] ("chat"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 1m0s request bound and never failed over. Fix: set a positive streamIdleTimeout below 1m0s (e.g. 30s for a first-token budget), or remove the field.';
const annotated = (annotations: Record<string, string>, namespace = 'team-a'): KubeObject => {
  const r = route([{ name: 'chat', streamIdleTimeout: '0s' }], 'chat', namespace);
  return { ...r, metadata: { ...r.metadata, annotations } };
};

describe('exemptions in the review core (webhook, check and audit share it)', () => {
  it('an annotation with a reason turns the finding into a skip: not a warning, logged with its result, counted', async () => {
    const metrics = new Metrics();
    const logged: Array<Record<string, unknown>> = [];
    const logger = { debug() {}, warn() {}, error() {}, info: (o: object) => logged.push(o as Record<string, unknown>) };
    const object = annotated({ 'aigw-admission.io/skip': 'stream-idle-zero, duration-syntax', 'aigw-admission.io/skip-reason': 'OPS-42' });
    const { review: out, verdict } = review(admissionReview(object), 'validate', deps({ metrics, logger }));
    expect(out.response).toEqual({ uid: out.response.uid, allowed: true });
    expect(verdict.findings).toEqual([
      {
        policy: 'stream-idle-zero',
        mode: 'warn',
        result: 'skip',
        exemption: 'aigw-admission.io/skip: OPS-42',
        resource: { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'chat' },
        path: 'spec.rules[0].streamIdleTimeout',
        message: IDLE_ZERO_MESSAGE,
      },
    ]);
    expect(logged.find((l) => l.event === 'review')!.findings).toEqual([
      { policy: 'stream-idle-zero', mode: 'warn', result: 'skip', path: 'spec.rules[0].streamIdleTimeout', message: IDLE_ZERO_MESSAGE },
    ]);
    expect((await metrics.registry.getSingleMetricAsString('aigw_admission_skipped_findings_total')).split('\n').slice(2)).toEqual([
      'aigw_admission_skipped_findings_total{policy="stream-idle-zero"} 1',
    ]);
  });

  it('a skip without its reason is not honoured and says so; an id that names no policy is reported', () => {
    const object = annotated({ 'aigw-admission.io/skip': 'stream-idle-zero,no-such-policy' });
    const { review: out, verdict } = review(admissionReview(object), 'validate', deps());
    // Warnings are cut to fit the API server's budget (README "Failure behaviour"); the verdict keeps the full text.
    expect(out.response.warnings).toEqual([
      '[stream-idle-zero] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 1m0s request bound and n… (full text: aigw-admission explain --route team-a/chat)',
      '[exemption] metadata.annotations["aigw-admission.io/skip"]: skips stream-idle-zero without a reason, so the exemption is not honoured. Fix: add the annotation aigw-admission.io/skip-reason saying w… (full text: aigw-admission explain --route team-a/chat)',
      '[exemption] metadata.annotations["aigw-admission.io/skip"]: names no policy: no-such-policy. Fix: use policy ids as printed in findings (e.g. duration-syntax, stream-idle-within-request, stream-idle-zero).',
    ]);
    expect(verdict.findings.map((f) => f.message)).toEqual([
      IDLE_ZERO_MESSAGE,
      'skips stream-idle-zero without a reason, so the exemption is not honoured. Fix: add the annotation aigw-admission.io/skip-reason saying why (e.g. "accepted until the provider fixes X, ticket OPS-123").',
      'names no policy: no-such-policy. Fix: use policy ids as printed in findings (e.g. duration-syntax, stream-idle-within-request, stream-idle-zero).',
    ]);
  });

  it('an exempted deny never denies; a config exclusion by namespace and name prefix skips with its own reason', () => {
    const bad = route([{ name: 'chat', streamIdleTimeout: 'soon' }], 'canary-chat', 'team-b');
    const policies = new ConfigLoader(ALL_POLICIES).policySet(
      new ConfigLoader(ALL_POLICIES).fromObject({ exclusions: [{ namespaces: ['team-*'], names: ['canary-*'], policies: ['duration-syntax'], reason: 'canaries try new syntax' }] }),
    );
    const { review: out, verdict } = review(admissionReview(bad), 'validate', deps({ policies }));
    expect(out.response.allowed).toBe(true);
    expect(verdict.findings.map((f) => [f.policy, f.mode, f.result, f.exemption])).toEqual([['duration-syntax', 'deny', 'skip', 'config exclusion: canaries try new syntax']]);
    const other = review(admissionReview(route([{ name: 'chat', streamIdleTimeout: 'soon' }], 'chat', 'team-b')), 'validate', deps({ policies }));
    expect(other.review.response.allowed).toBe(false);
  });

  it('the config refuses an exclusion without a reason or naming an unknown policy', () => {
    const loader = new ConfigLoader(ALL_POLICIES);
    expect(() => loader.fromObject({ exclusions: [{ namespaces: ['x'] }] }, 'config.yaml')).toThrow("invalid configuration: config.yaml: exclusions.0: must have required property 'reason'");
    expect(() => loader.fromObject({ exclusions: [{ policies: ['nope'], reason: 'r' }] }, 'config.yaml')).toThrow(/^invalid configuration: config.yaml: exclusions\[0\].policies: nope: unknown policy; known policies: duration-syntax,/);
  });

  it('a policy that crashes is an error result, and a PolicyReport says error and skip', () => {
    const boom = definePolicy({
      id: 'boom',
      description: 'throws',
      endpoint: 'validate',
      match: { kinds: [{ group: 'aigateway.envoyproxy.io', kind: 'AIGatewayRoute', resource: 'aigatewayroutes', versions: ['v1beta1'] }], operations: ['CREATE'] },
      defaultMode: 'warn',
      onError: 'allow-with-warning',
      paramsSchema: {},
      defaultParams: {},
      evaluate() {
        throw new Error('kaput');
      },
    });
    const { verdict } = review(admissionReview(route([{ name: 'chat' }])), 'validate', deps({ policies: new PolicySet([boom]) }));
    expect(verdict.findings.map((f) => [f.policy, f.mode, f.result])).toEqual([['boom', 'warn', 'error']]);
    const skipped = { ...verdict.findings[0]!, policy: 'stream-idle-zero', result: 'skip' as const, exemption: 'aigw-admission.io/skip: OPS-42' };
    const report = buildReports([verdict.findings[0]!, skipped], [], NOW).get('team-a')!;
    expect(report.summary).toEqual({ pass: 0, fail: 0, warn: 0, error: 1, skip: 1 });
    expect(report.results.map((r) => [r.policy, r.result, r.properties])).toEqual([
      ['boom', 'error', { mode: 'warn' }],
      ['stream-idle-zero', 'skip', { mode: 'warn', exemption: 'aigw-admission.io/skip: OPS-42' }],
    ]);
  });
});

describe('check with exemptions, registered CRD policies and one finding per mistake', () => {
  const loader = new ConfigLoader(ALL_POLICIES);
  it('skips by annotation and by config, and keeps the one without a reason', () => {
    const policies = loader.policySet(loader.fromFile(join(EXEMPTIONS, 'config.yaml')));
    const r = checkObjects(readManifests([join(EXEMPTIONS, 'routes.yaml')]), { policies, now: () => NOW });
    expect(r.findings.map((f) => [f.resource.name, f.policy, f.mode, f.result ?? '', f.exemption ?? ''])).toEqual([
      ['accepted', 'stream-idle-zero', 'warn', 'skip', 'aigw-admission.io/skip: the provider never streams; OPS-42'],
      ['no-reason', 'stream-idle-zero', 'warn', '', ''],
      ['no-reason', 'exemption', 'warn', '', ''],
      ['no-reason', 'exemption', 'warn', '', ''],
      ['sandbox-route', 'stream-idle-zero', 'warn', 'skip', 'config exclusion: sandboxes try things out'],
    ]);
  });

  const crds = new CrdSchemas(readManifests([join(ROOT, 'test/fixtures/check/crds')]).map((m) => m.object));
  const badDuration = [{ object: route([{ name: 'chat', streamIdleTimeout: '5 seconds' }]), source: 'r.yaml:1' }];

  it('a bad duration is one mistake: the policy finding stands for the schema one', () => {
    const r = checkObjects(badDuration, { policies: new PolicySet(ALL_POLICIES), crds, now: () => NOW });
    expect(r.findings.map((f) => [f.policy, f.mode, f.path])).toEqual([
      ['crd-schema', 'deny', 'spec.rules[0].streamIdleTimeout'],
      ['duration-syntax', 'deny', 'spec.rules[0].streamIdleTimeout'],
    ]);
    expect(consolidate(r.findings).map((f) => [f.policy, f.mode, f.path, f.also])).toEqual([['duration-syntax', 'deny', 'spec.rules[0].streamIdleTimeout', ['crd-schema']]]);
  });

  it('crd-schema takes its mode from the config and can be turned off', () => {
    const warn = loader.policySet(loader.fromObject({ policies: { 'crd-schema': { mode: 'warn' }, 'duration-syntax': { enabled: false } } }));
    expect(checkObjects(badDuration, { policies: warn, crds, now: () => NOW }).findings.map((f) => [f.policy, f.mode])).toEqual([['crd-schema', 'warn']]);
    const off = loader.policySet(loader.fromObject({ policies: { 'crd-schema': { enabled: false }, 'duration-syntax': { enabled: false } } }));
    expect(checkObjects(badDuration, { policies: off, crds, now: () => NOW }).findings).toEqual([]);
  });

  it('groups the per-backendRef findings of one policy on one object into one, at their common path', () => {
    const resource = { apiVersion: 'v1', kind: 'X', namespace: 'n', name: 'a' };
    const f = (path: string, message: string) => ({ policy: 'unresolved-backend', mode: 'warn' as const, resource, path, message });
    expect(consolidate([f('spec.rules[0].backendRefs[0]', 'one.'), f('spec.rules[0].backendRefs[1]', 'two.'), f('spec.rules[2].backendRefs[0]', 'three.')])).toEqual([
      f('spec.rules', '3 backendRefs: one. two. three.'),
    ]);
    expect(consolidate([f('spec.rules[0].backendRefs[0]', 'one.'), f('spec.rules[0].backendRefs[1]', 'two.')])).toEqual([f('spec.rules[0].backendRefs', '2 backendRefs: one. two.')]);
  });
});
