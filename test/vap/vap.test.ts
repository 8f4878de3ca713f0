/**
 * The ValidatingAdmissionPolicies (issue 22): each CEL form gives the same verdict as the webhook's TypeScript policy on
 * every fixture and on generated objects, names the same rule, type-checks as the API server requires, and stays under
 * the API server's CEL cost limits on the largest object the CRD admits.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { ALL_POLICIES } from '../../policies/index.js';
import type { AnyPolicy, VapForm } from '../../src/review/policy.js';
import type { KubeObject } from '../../src/kube/types.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { CrdSchemas } from '../../src/crd/schemas.js';
import { readManifests } from '../../src/input/manifests.js';
import { parseDuration } from '../../src/model/duration.js';
import { generateVaps, missingVaps, vapForm, vapObjects } from '../../src/vap/generate.js';
import { AIGR_RULES_MAX_ITEMS, AIGR_RULE_LIST_MAX_ITEMS, BTP_RETRY_BACKOFF_INVALID_VAP } from '../../src/vap/forms.js';
import {
  AIGATEWAYROUTE_SHAPE,
  BACKENDTRAFFICPOLICY_SHAPE,
  PER_CALL_LIMIT,
  RUNTIME_CEL_COST_BUDGET,
  estimateFormCost,
  type Shape,
} from '../../src/vap/cost.js';
import { VAP_OVERLAY_FILE, vapOverlayFile } from '../../src/deploy/vap-overlay.js';
import { FAILURE_POLICY_WHEN_READY, failurePolicyWhenReady } from '../../src/deploy/webhook-rules.js';
import { HAS_SHARED, ROOT, SHARED, route } from '../helpers.js';
import { evaluateForm, policyFindings, typeProblems } from './evaluate.js';

const WITH_FORM = ALL_POLICIES.filter((p) => vapForm(p));
/** For the tests that run hundreds of CEL evaluations, render kustomize or start the CLI: generous, so a busy machine passes. */
const SLOW = 180_000;
const BTP_ID = 'btp-retry-refused';

describe('declarations', () => {
  it('every policy declares whether it has a CEL form', () => {
    expect(missingVaps(ALL_POLICIES).filter((m) => m.reason === 'undeclared')).toEqual([]);
  });

  it('the checks issue 22 names have one', () => {
    expect(WITH_FORM.map((p) => p.id)).toEqual(
      expect.arrayContaining(['stream-idle-within-request', 'backend-request-within-implied-request', 'httproute-limits', 'stream-idle-zero']),
    );
  });

  it('--explain-missing lists exactly the policies without one, with the reason', () => {
    const missing = missingVaps(ALL_POLICIES);
    expect(missing.map((m) => m.policy).sort()).toEqual(ALL_POLICIES.filter((p) => !vapForm(p)).map((p) => p.id).sort());
    expect(missing.find((m) => m.policy === 'default-request-timeout')).toEqual({
      policy: 'default-request-timeout',
      reason: 'mutation',
      why: 'writes a default; a ValidatingAdmissionPolicy cannot patch',
    });
    expect(missing.find((m) => m.policy === 'fallover-budget')?.reason).toBe('fall-over');
  });
});

/** Every form with the object shape it runs on: the policies' and the BackendTrafficPolicy back-off one. */
const FORMS: [string, VapForm, Shape][] = [
  ...WITH_FORM.map((p): [string, VapForm, Shape] => [p.id, vapForm(p)!, p.match.kinds[0]!.kind === 'BackendTrafficPolicy' ? BACKENDTRAFFICPOLICY_SHAPE : AIGATEWAYROUTE_SHAPE]),
  ...(WITH_FORM.some((p) => p.id === BTP_ID) ? [] : [[BTP_ID, BTP_RETRY_BACKOFF_INVALID_VAP, BACKENDTRAFFICPOLICY_SHAPE] as [string, VapForm, Shape]]),
];

describe.each(FORMS)('%s: what the API server checks before it runs the policy', (_id, form, shape) => {
  it('every expression compiles with object: dyn; expressions are bool, messageExpressions string', () => {
    expect(typeProblems(form)).toEqual([]);
  });

  it(`each expression stays under the per-call cost limit (${PER_CALL_LIMIT}), all under the binding's budget`, () => {
    const cost = estimateFormCost(form, shape);
    expect(cost.expressions.filter((e) => e.cost > PER_CALL_LIMIT)).toEqual([]);
    expect(cost.total).toBeLessThanOrEqual(RUNTIME_CEL_COST_BUDGET);
  });
});

describe('the cost estimate', () => {
  it('charges a comprehension per element of the CRD bound, so an unbounded list cannot slip through', () => {
    const form = (expression: string): VapForm => ({ validations: [{ expression, message: 'm', messageExpression: "'m'" }] });
    const rules = estimateFormCost(form('object.spec.rules.all(r, has(r.name))'), AIGATEWAYROUTE_SHAPE).expressions[0]!.cost;
    // object (1) + .spec (1) + .rules (1) + accumulator (1) + 15 × (loop 3 + has 1 + r 1)
    expect(rules).toBe(3 + 1 + 15 * 5);
    const refs = estimateFormCost(form('object.spec.rules.all(r, r.backendRefs.all(b, has(b.weight)))'), AIGATEWAYROUTE_SHAPE).expressions[0]!.cost;
    expect(refs).toBe(3 + 1 + 15 * (3 + 2 + 1 + 128 * 5));
    // A name without maxLength is bounded by the request size: concatenating it costs 0.1 per byte of 3 MiB.
    const name = estimateFormCost(form("object.spec.rules.all(r, r.backendRefs.all(b, 'x' + b.name != ''))"), AIGATEWAYROUTE_SHAPE).expressions[0]!.cost;
    expect(name).toBeGreaterThan(PER_CALL_LIMIT);
  });
});

describe.runIf(HAS_SHARED)('the bounds the cost estimate and the messages assume are the CRD\'s', () => {
  it('AIGatewayRoute: rules ≤ 15, backendRefs and matches ≤ 128, rule names ≤ 253, backendRef names unbounded', () => {
    const crd = parseYaml(readFileSync(join(SHARED, 'fixtures/crds/ai-gateway/aigateway.envoyproxy.io_aigatewayroutes.yaml'), 'utf8'));
    const shapeRule = ((AIGATEWAYROUTE_SHAPE as unknown as { fields: { spec: { fields: { rules: Shape } } } }).fields.spec.fields.rules) as Extract<Shape, { kind: 'list' }>;
    const ruleFields = (shapeRule.items as Extract<Shape, { kind: 'object' }>).fields;
    for (const v of crd.spec.versions) {
      const rules = v.schema.openAPIV3Schema.properties.spec.properties.rules;
      expect([rules.maxItems, shapeRule.maxItems, AIGR_RULES_MAX_ITEMS]).toEqual([15, 15, 15]);
      const item = rules.items.properties;
      expect([item.backendRefs.maxItems, item.matches.maxItems]).toEqual([AIGR_RULE_LIST_MAX_ITEMS, AIGR_RULE_LIST_MAX_ITEMS]);
      expect(ruleFields.backendRefs).toMatchObject({ maxItems: item.backendRefs.maxItems });
      expect(ruleFields.matches).toMatchObject({ maxItems: item.matches.maxItems });
      expect(ruleFields.name).toEqual({ kind: 'string', maxLength: item.name.maxLength });
      expect(item.backendRefs.items.properties.name.maxLength).toBeUndefined();
      for (const d of [item.streamIdleTimeout, item.timeouts.properties.request, item.timeouts.properties.backendRequest]) {
        expect(d.pattern).toBe('^([0-9]{1,5}(h|m|s|ms)){1,4}$');
      }
    }
  });
});

// ---- fixtures ----

function files(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) return files(p);
    return /\.(ya?ml|json)$/.test(f) ? [p] : [];
  });
}

/** Objects of every fixture: manifests, and the objects inside AdmissionReview bodies. */
function fixtureObjects(): { source: string; object: KubeObject }[] {
  const dirs = [join(ROOT, 'test/fixtures'), ...(HAS_SHARED ? [join(SHARED, 'fixtures/examples'), join(SHARED, 'fixtures/admission-reviews')] : [])];
  const out: { source: string; object: KubeObject }[] = [];
  for (const file of dirs.flatMap(files)) {
    let docs: unknown[];
    try {
      docs = parseAllDocuments(readFileSync(file, 'utf8')).map((d) => d.toJS());
    } catch {
      continue;
    }
    for (const doc of docs as KubeObject[]) {
      if (!doc || typeof doc !== 'object') continue;
      if (doc.kind === 'AdmissionReview') {
        const req = (doc as { request?: { object?: KubeObject; oldObject?: KubeObject } }).request;
        for (const o of [req?.object, req?.oldObject]) if (o) out.push({ source: file, object: o });
      } else if (doc.kind === 'List' && Array.isArray((doc as { items?: unknown }).items)) {
        for (const o of (doc as { items: KubeObject[] }).items) out.push({ source: file, object: o });
      } else if (typeof doc.kind === 'string') out.push({ source: file, object: doc });
    }
  }
  return out;
}

const crds = HAS_SHARED
  ? new CrdSchemas(readManifests([join(SHARED, 'fixtures/crds/ai-gateway'), join(SHARED, 'fixtures/crds/envoy-gateway')]).map((m) => m.object))
  : undefined;

/**
 * The object as a ValidatingAdmissionPolicy sees it: the API server validates against the CRD schema (and applies its
 * defaults) before validating admission, so an object the schema refuses never reaches the policy. Without the CRDs
 * (a fresh clone) the test fixtures are taken when their durations are GEP-2257 durations, the schema's one check that
 * the policies rely on.
 */
function asAdmitted(object: KubeObject): KubeObject | undefined {
  if (crds) {
    const check = crds.check(object);
    if (!check) return undefined;
    return check.schema.length === 0 && check.rules.length === 0 ? check.object : undefined;
  }
  const rules = (object.spec as { rules?: unknown })?.rules;
  if (!Array.isArray(rules)) return object;
  const durationsOk = rules.every((r) => {
    const t = (r?.timeouts ?? {}) as Record<string, unknown>;
    return [t.request, t.backendRequest, r?.streamIdleTimeout].every((d) => d === undefined || (typeof d === 'string' && parseDuration(d).ok));
  });
  return durationsOk ? object : undefined;
}

const groupOf = (o: KubeObject) => (String(o.apiVersion).includes('/') ? String(o.apiVersion).split('/')[0] : '');
const matches = (policy: AnyPolicy, o: KubeObject) => policy.match.kinds.some((k) => k.group === groupOf(o) && k.kind === o.kind);

/** The CEL verdict against the webhook's: the same pass/fail, and a failing message names the policy and the first rule. */
function expectSameVerdict(policy: AnyPolicy, object: KubeObject, source = 'generated'): void {
  const findings = policyFindings(policy, object);
  const cel = evaluateForm(vapForm(policy)!, object);
  expect(cel.failures.length > 0, `${policy.id} on ${source}: webhook findings ${JSON.stringify(findings.map((f) => f.message))}, CEL ${JSON.stringify(cel.failures)}`).toBe(
    findings.length > 0,
  );
  for (const message of cel.failures) expect(message.startsWith(`[${policy.id}] `)).toBe(true);
  if (findings.length > 0) {
    // Each failing validation names a rule (or the route) the webhook also reports.
    const named = cel.failures.map((m) => /^\[[^\]]+\] (spec\.rules(?:\[\d+\])?)/.exec(m)?.[1]);
    const reported = new Set(findings.map((f) => /^spec\.rules(\[\d+\])?/.exec(f.path)?.[0]));
    for (const n of named) expect(reported.has(n), `${policy.id} on ${source}: CEL names ${n}, the webhook ${[...reported].join(', ')}`).toBe(true);
  }
}

describe('equivalence on every fixture', () => {
  const objects = fixtureObjects();

  it.each(WITH_FORM.map((p) => [p.id, p] as const))('%s', (_id, policy) => {
    const admitted = objects.filter((o) => matches(policy, o.object)).flatMap((o) => {
      const a = asAdmitted(o.object);
      return a ? [{ ...o, object: a }] : [];
    });
    expect(admitted.length).toBeGreaterThan(HAS_SHARED ? 50 : 2);
    for (const { source, object } of admitted) expectSameVerdict(policy, object, source);
  }, SLOW);

  it('the fixtures include a route the CEL form refuses, so the comparison can fail', () => {
    const policy = ALL_POLICIES.find((p) => p.id === 'stream-idle-within-request')!;
    const refused = objects.filter((o) => matches(policy, o.object) && asAdmitted(o.object) && evaluateForm(vapForm(policy)!, asAdmitted(o.object)!).failures.length > 0);
    expect(refused.length).toBeGreaterThan(0);
  }, SLOW);
});

// ---- generated objects ----

const UNITS = ['h', 'm', 's', 'ms'] as const;
/** GEP-2257 durations, biased towards the values the checks compare against (0, 60s, equal bounds). */
const duration = fc.oneof(
  fc.constantFrom('0s', '0ms', '00000h', '60s', '1m', '1m0s', '59s', '61s', '59999ms', '60001ms', '30s', '90s', '1m30s', '1s1s', '2h', '100ms'),
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 99999 }), fc.constantFrom(...UNITS), fc.boolean()), { minLength: 1, maxLength: 4 })
    .map((parts) => parts.map(([n, u, pad]) => `${pad ? String(n).padStart(5, '0') : n}${u}`).join('')),
);
const weight = fc.oneof(fc.constantFrom(0, 1, 999_999, 1_000_000, 1_000_001, 2_147_483_647), fc.integer({ min: 0, max: 2_147_483_647 }));
const backendRef = fc.record({ name: fc.constantFrom('openai', 'anthropic', 'bedrock'), weight, priority: fc.integer({ min: 0, max: 3 }) }, { requiredKeys: ['name'] });
const timeouts = fc.record({ request: duration, backendRequest: duration }, { requiredKeys: [] });
const rule = fc.record(
  {
    name: fc.constantFrom('chat', 'embeddings', 'r1', 'r2'),
    streamIdleTimeout: duration,
    timeouts,
    backendRefs: fc.oneof(fc.array(backendRef, { maxLength: 3 }), fc.array(backendRef, { minLength: 15, maxLength: 20 })),
    matches: fc.oneof(fc.array(fc.constant({}), { maxLength: 3 }), fc.array(fc.constant({}), { minLength: 60, maxLength: 70 })),
  },
  { requiredKeys: [] },
);
const aigr = fc.array(rule, { maxLength: AIGR_RULES_MAX_ITEMS }).map((rules) => route(rules));

describe('equivalence on generated AIGatewayRoutes (fast-check)', () => {
  it.each(WITH_FORM.filter((p) => p.match.kinds.some((k) => k.kind === 'AIGatewayRoute')).map((p) => [p.id, p] as const))('%s', (_id, policy) => {
    fc.assert(
      fc.property(aigr, (object) => expectSameVerdict(policy, object)),
      { numRuns: 300, seed: 20261128 },
    );
  }, SLOW);
});

describe('messages', () => {
  const policy = (id: string) => ALL_POLICIES.find((p) => p.id === id)!;
  const failures = (id: string, rules: unknown[]) => evaluateForm(vapForm(policy(id))!, route(rules)).failures;

  it('stream-idle-within-request names the rule, the values and the bound that applies', () => {
    expect(failures('stream-idle-within-request', [{ name: 'ok', streamIdleTimeout: '10s' }, { name: 'chat', streamIdleTimeout: '1m30s' }])).toEqual([
      '[stream-idle-within-request] spec.rules[1].streamIdleTimeout: spec.rules[1] ("chat"): streamIdleTimeout 1m30s is not shorter than the 1m0s bound on one attempt ' +
        "(timeouts.request unset: the controller's implied 1m0s; no timeouts.backendRequest), so the idle timer can never fire first and a silent model is never failed over. " +
        'Fix: set streamIdleTimeout below 1m0s, or set timeouts.request above 1m30s.',
    ]);
    expect(
      failures('stream-idle-within-request', [
        { streamIdleTimeout: '30s', timeouts: { request: '5m', backendRequest: '30s' } },
        { streamIdleTimeout: '2m', timeouts: { request: '2m' } },
      ]),
    ).toEqual([
      '[stream-idle-within-request] spec.rules[0].streamIdleTimeout: spec.rules[0] (unnamed): streamIdleTimeout 30s is not shorter than the 30s bound on one attempt ' +
        '(timeouts.backendRequest 30s, which Envoy Gateway programs as the route timeout when set), so the idle timer can never fire first and a silent model is never failed over. ' +
        'Fix: set streamIdleTimeout below 30s, or raise timeouts.backendRequest above 30s. (and 1 more rules)',
    ]);
    expect(failures('stream-idle-within-request', [{ streamIdleTimeout: '2m', timeouts: { request: '0s' } }, { streamIdleTimeout: '0s' }])).toEqual([]);
  });

  it('stream-idle-zero and backend-request-within-implied-request', () => {
    expect(failures('stream-idle-zero', [{ name: 'chat', streamIdleTimeout: '0s', timeouts: { request: '2m' } }])).toEqual([
      '[stream-idle-zero] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 2m request bound and never failed over. ' +
        'Fix: set a positive streamIdleTimeout below 2m (e.g. 30s for a first-token budget), or remove the field.',
    ]);
    expect(failures('backend-request-within-implied-request', [{ name: 'chat', timeouts: { backendRequest: '90s' } }])).toEqual([
      '[backend-request-within-implied-request] spec.rules[0].timeouts.backendRequest: spec.rules[0] ("chat"): timeouts.backendRequest 90s is longer than the 1m0s request timeout the controller writes when timeouts.request is unset, ' +
        'so the generated HTTPRoute is rejected (backendRequest must not exceed request) and this route is never programmed. Fix: set timeouts.request to 90s or more, or lower timeouts.backendRequest to 1m0s or less.',
    ]);
  });

  it('httproute-limits: per rule, per backendRef and for the whole generated HTTPRoute', () => {
    const refs = (n: number) => Array.from({ length: n }, (_, i) => ({ name: `b${i}`, weight: 1 }));
    const many = Array.from({ length: 15 }, (_, i) => ({ name: `r${i}`, matches: Array.from({ length: 9 }, () => ({})) }));
    // 1 + 14 × 9 + the catch-all's 1 = 128 matches: at the limit, not over it.
    expect(failures('httproute-limits', [{ name: 'chat', backendRefs: [...refs(16), { name: 'heavy', weight: 1_000_001 }] }, ...many.slice(0, 14)])).toEqual([
      '[httproute-limits] spec.rules[0].backendRefs: spec.rules[0] ("chat"): 17 backendRefs, but an HTTPRoute rule holds at most 16; the generated HTTPRoute would be rejected by the API server and the route never programmed. Fix: split the models over several rules (matched by x-ai-eg-model) with at most 16 backendRefs each.',
      '[httproute-limits] spec.rules[0].backendRefs: spec.rules[0] ("chat"): backendRefs[16] has weight 1000001, above the HTTPRoute maximum of 1,000,000; the generated HTTPRoute would be rejected by the API server and the route never programmed. Fix: scale the weights of this rule down proportionally so each is at most 1000000.',
    ]);
    expect(failures('httproute-limits', many)).toEqual([
      "[httproute-limits] spec.rules: the generated HTTPRoute would hold 136 matches (the rules' matches, one for each rule without matches, and one for the catch-all route-not-found rule), but an HTTPRoute holds at most 128; the generated HTTPRoute would be rejected by the API server and the route never programmed. Fix: remove 8 matches or move some rules to a second AIGatewayRoute.",
    ]);
  });
});

// ---- the BackendTrafficPolicy back-off (the webhook policy btp-retry-refused is built on branch fidelity) ----

/** Envoy Gateway v1.8.1 internal/gatewayapi/clustersettings.go: the back-off values it refuses. */
function egRefusesBackOff(backOff: { baseInterval?: string; maxInterval?: string }): boolean {
  const ms = (d: string | undefined) => (d === undefined ? undefined : (parseDuration(d) as { ms: number }).ms);
  const base = ms(backOff.baseInterval);
  const max = ms(backOff.maxInterval);
  if (base === 0) return true;
  if (max === 0) return true;
  return base !== undefined && max !== undefined && base > max;
}
const btp = (backOff: unknown): KubeObject => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'BackendTrafficPolicy',
  metadata: { name: 'retry', namespace: 'team-a' },
  spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'chat' }], retry: { perRetry: { backOff } } },
});

describe('btp-retry-refused (CEL form)', () => {
  it('refuses what Envoy Gateway refuses, on generated back-offs', () => {
    fc.assert(
      fc.property(fc.record({ baseInterval: duration, maxInterval: duration }, { requiredKeys: [] }), (backOff) => {
        expect(evaluateForm(BTP_RETRY_BACKOFF_INVALID_VAP, btp(backOff)).failures.length > 0).toBe(egRefusesBackOff(backOff));
        // And against the webhook policy, once it is among the policies (branch fidelity).
        const policy = ALL_POLICIES.find((p) => p.id === BTP_ID);
        if (policy) expect(policyFindings(policy, btp(backOff)).length > 0).toBe(egRefusesBackOff(backOff));
      }),
      { numRuns: 500, seed: 20261128 },
    );
  }, SLOW);

  it('says which value and why', () => {
    expect(evaluateForm(BTP_RETRY_BACKOFF_INVALID_VAP, btp({ baseInterval: '2s', maxInterval: '1s' })).failures).toEqual([
      '[btp-retry-refused] spec.retry.perRetry.backOff.maxInterval: maxInterval 1s is less than baseInterval 2s, which Envoy Gateway refuses the whole BackendTrafficPolicy (its retry, timeouts and everything else are not applied). Fix: raise maxInterval to baseInterval or more, or remove it (10 times baseInterval).',
    ]);
    expect(evaluateForm(BTP_RETRY_BACKOFF_INVALID_VAP, btp({ baseInterval: '0s' })).failures).toEqual([
      "[btp-retry-refused] spec.retry.perRetry.backOff.baseInterval: baseInterval 0s is zero, which Envoy Gateway refuses the whole BackendTrafficPolicy (its retry, timeouts and everything else are not applied). Fix: set a positive baseInterval (e.g. 100ms), or remove it for Envoy's 25ms.",
    ]);
    expect(evaluateForm(BTP_RETRY_BACKOFF_INVALID_VAP, { ...btp({}), spec: {} }).failures).toEqual([]);
  });

  it('is proven against the webhook policy too once it exists (the equivalence tests above pick it up by id)', () => {
    const policy = ALL_POLICIES.find((p) => p.id === BTP_ID);
    if (policy) expect(vapForm(policy)).toBe(BTP_RETRY_BACKOFF_INVALID_VAP);
    else expect(FORMS.map(([id]) => id)).toContain(BTP_ID);
  });
});

// ---- the generated objects ----

describe('generated ValidatingAdmissionPolicies', () => {
  it('one policy and binding per check in force, the action from the configured mode', () => {
    const set = new PolicySet(ALL_POLICIES, {
      'stream-idle-within-request': { mode: 'audit' },
      'stream-idle-zero': { mode: 'warn' },
      'httproute-limits': { enabled: false },
    });
    const objects = generateVaps(set);
    const bindings = Object.fromEntries(
      objects.filter((o) => o.kind === 'ValidatingAdmissionPolicyBinding').map((o) => [o.metadata!.name, (o.spec as { validationActions: string[] }).validationActions]),
    );
    expect(bindings).toEqual({
      'aigw-admission-stream-idle-within-request': ['Audit'],
      'aigw-admission-stream-idle-zero': ['Warn'],
      'aigw-admission-backend-request-within-implied-request': ['Deny'],
    });
  });

  it('matches the kinds, versions and write operations the policy declares; fails open where the webhook policy does', () => {
    const policy = ALL_POLICIES.find((p) => p.id === 'stream-idle-within-request')!;
    const [vap, binding] = vapObjects(policy, 'deny');
    expect(vap.spec).toMatchObject({
      failurePolicy: 'Ignore',
      matchConstraints: {
        resourceRules: [{ apiGroups: ['aigateway.envoyproxy.io'], apiVersions: ['v1alpha1', 'v1beta1'], operations: ['CREATE', 'UPDATE'], resources: ['aigatewayroutes'] }],
      },
    });
    expect(binding).toEqual({
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'aigw-admission-stream-idle-within-request', labels: { 'app.kubernetes.io/name': 'aigw-admission', 'aigw-admission.io/policy': 'stream-idle-within-request' } },
      spec: { policyName: 'aigw-admission-stream-idle-within-request', validationActions: ['Deny'] },
    });
  });

  it(`deploy/overlays/vap/${VAP_OVERLAY_FILE} is what npm run gen:deploy writes from the deployed config`, () => {
    const expected = vapOverlayFile(ALL_POLICIES, readFileSync(join(ROOT, 'deploy/base/config.yaml'), 'utf8'));
    expect(readFileSync(join(ROOT, 'deploy/overlays/vap', VAP_OVERLAY_FILE), 'utf8'), 'stale: run npm run gen:deploy').toBe(expected);
  });

  it('the overlays render: the VAP one adds the policies to the base, the Ignore one keeps the gateway entry at Ignore', () => {
    const render = (dir: string) =>
      parseAllDocuments(execFileSync('kubectl', ['kustomize', join(ROOT, dir)], { encoding: 'utf8' })).map((d) => d.toJS() as KubeObject);
    const vap = render('deploy/overlays/vap');
    const base = render('deploy/base');
    // deploy/base/config.yaml sets stream-idle-zero to deny; the other checks keep their default modes.
    expect(vap.length).toBe(base.length + generateVaps(new PolicySet(ALL_POLICIES, { 'stream-idle-zero': { mode: 'deny' } })).length);
    const zero = vap.find((o) => o.kind === 'ValidatingAdmissionPolicyBinding' && o.metadata?.name === 'aigw-admission-stream-idle-zero');
    expect(zero?.spec).toEqual({ policyName: 'aigw-admission-stream-idle-zero', validationActions: ['Deny'] });
    const args = (objs: KubeObject[]) =>
      ((objs.find((o) => o.kind === 'Deployment')!.spec as { template: { spec: { containers: { args: string[] }[] } } }).template.spec.containers[0]!.args);
    const ignore = render('deploy/overlays/vap-webhook-ignore');
    expect(args(ignore)).toEqual([...args(vap), '--keep-ignore=gateway.validate.aigw-admission.io']);
    expect(ignore.filter((o) => o.kind !== 'Deployment')).toEqual(vap.filter((o) => o.kind !== 'Deployment'));
  }, SLOW);

  it('serve --keep-ignore: a ready replica holds the named entries at Ignore and still raises the others', () => {
    const wanted = failurePolicyWhenReady(['gateway.validate.aigw-admission.io']);
    expect([...wanted]).toEqual([...FAILURE_POLICY_WHEN_READY].map(([n, p]) => [n, n === 'gateway.validate.aigw-admission.io' ? 'Ignore' : p]));
    expect(FAILURE_POLICY_WHEN_READY.get('gateway.validate.aigw-admission.io')).toBe('Fail');
    expect(wanted.get('pods.mutate.aigw-admission.io')).toBe('Fail');
    expect(() => failurePolicyWhenReady(['gateway.validate'])).toThrow(
      `--keep-ignore gateway.validate: no such webhook entry; use one of ${[...FAILURE_POLICY_WHEN_READY.keys()].join(', ')}`,
    );
  });
});

describe('aigw-admission vap', () => {
  const CLI = join(ROOT, 'dist/src/cli.js');
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: 'utf8' });

  it('prints the policies and bindings of the default configuration', () => {
    const out = run(['vap', '-o', 'json']);
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout).items).toEqual(generateVaps(new PolicySet(ALL_POLICIES)));
  }, SLOW);

  it('--explain-missing lists the policies without a CEL form', () => {
    const missing = run(['vap', '--explain-missing']);
    expect(missing.status).toBe(0);
    const lines = missing.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^POLICY +REASON +WHY$/);
    expect(lines.slice(1).map((l) => l.split(/ +/)[0])).toEqual(missingVaps(ALL_POLICIES).map((m) => m.policy));
  }, SLOW);

  it('a bad --config is a user error naming the flag', () => {
    const out = run(['vap', '--config', 'no-such.yaml']);
    expect(out.status).toBe(2);
    expect(out.stderr).toBe('aigw-admission: invalid configuration: --config no-such.yaml: no such file\n');
  }, SLOW);
});
