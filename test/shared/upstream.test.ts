/** Suites over the upstream fixtures in ../shared (always there in CI; a fresh clone without it runs the rest). */
import { describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { HAS_SHARED, SHARED, admissionReview, deps, listFiles, readJson, yamlObjects } from '../helpers.js';
import { apply_patch } from 'jsonpatch';
import { review } from '../../src/review/review.js';
import { parseAdmissionReview } from '../../src/review/parse.js';
import { MemoryWorld } from '../../src/world/world.js';
import type { AdmissionReviewRequest, KubeObject } from '../../src/kube/types.js';

describe.runIf(HAS_SHARED)('real kube-apiserver AdmissionReview bodies (../shared/fixtures/admission-reviews)', () => {
  const files = HAS_SHARED ? listFiles(join(SHARED, 'fixtures/admission-reviews'), '.json') : [];

  it('has the bodies', () => {
    expect(files.length).toBeGreaterThan(90);
  });

  const validating = files.filter((f) => f.endsWith('-validate.json'));
  const mutating = files.filter((f) => f.endsWith('-mutate.json'));
  // The cluster these bodies came from: every object they created (an EnvoyPatchPolicy's route is looked up in it).
  let world: MemoryWorld | undefined;
  const cluster = () =>
    (world ??= new MemoryWorld(validating.map((f) => readJson<AdmissionReviewRequest>(f).request).filter((r) => r.operation === 'CREATE').map((r) => r.object!)));
  // This recorded route has two priority levels and a streamIdleTimeout, and no BackendTrafficPolicy was ever applied for it.
  // The others name AIServiceBackends the recording never created (it holds other AIServiceBackends, so their absence
  // is known): in that cluster those refs do not resolve. The recording created no Backends, so Backends are not judged.
  const flagged: Record<string, string[]> = {
    'aigatewayroute-create-dryrun-validate.json': ['fallover-retry-missing'],
    // kserve, aws-bedrock, azure-openai: the crdcel fixtures test the route's schema only.
    'aigatewayroute-crdcel-basic-create-validate.json': ['unresolved-backend', 'unresolved-backend', 'unresolved-backend'],
    'aigatewayroute-crdcel-parent-refs-create-validate.json': ['unresolved-backend'],
    'aigatewayroute-crdcel-rule-name-create-validate.json': ['unresolved-backend'],
    // ex-autoconfig/openai was not recorded.
    'aigatewayroute-example-autoconfig-openai-create-validate.json': ['unresolved-backend'],
    // Rule 2 names envoy-ai-gateway-basic-testupstream, which upstream defines in basic.yaml (namespace default), not here.
    'aigatewayroute-example-inference-pool-create-validate.json': ['unresolved-backend'],
    'aigatewayroute-example-translate-basic-create-validate.json': ['unresolved-backend'],
  };

  it.each(validating.map((f) => [basename(f), f]))('%s: well-formed answer echoing the uid, allowed, no finding', (name, file) => {
    const input = parseAdmissionReview(readJson(file));
    const { review: out, verdict } = review(input, 'validate', deps({ world: cluster() }));
    expect(out.apiVersion).toBe('admission.k8s.io/v1');
    expect(out.kind).toBe('AdmissionReview');
    expect(out.response.uid).toBe(input.request.uid);
    expect(out.response.allowed).toBe(true);
    expect(verdict.findings.map((f) => f.policy)).toEqual(flagged[name] ?? []);
    expect(verdict.findings.every((f) => f.mode === 'warn')).toBe(true);
  });

  it.each(mutating.map((f) => [basename(f), f]))('%s: allowed; defaults written as a patch that keeps every user value and is idempotent', (_name, file) => {
    const input = parseAdmissionReview(readJson(file));
    const { review: out, verdict } = review(input, 'mutate', deps());
    expect(out.response.uid).toBe(input.request.uid);
    expect(out.response.allowed).toBe(true);
    expect(verdict.findings.every((f) => f.policy.startsWith('default-') && f.mode === 'warn')).toBe(true);
    if (input.request.kind.kind !== 'AIGatewayRoute' || input.request.operation === 'DELETE') {
      expect(out.response.patch).toBeUndefined();
      return;
    }
    const ops = out.response.patch ? JSON.parse(Buffer.from(out.response.patch, 'base64').toString('utf8')) : [];
    const patched = ops.length ? apply_patch(structuredClone(input.request.object), ops) : input.request.object;
    const before = (input.request.object as { spec: { rules: Array<Record<string, unknown>> } }).spec.rules;
    const after = (patched as { spec: { rules: Array<Record<string, unknown>> } }).spec.rules;
    before.forEach((rule, i) => {
      for (const [k, v] of Object.entries(rule)) {
        if (k === 'timeouts') expect(after[i]![k]).toEqual({ request: '60s', ...(v as object) });
        else expect(after[i]![k]).toEqual(v);
      }
      expect(after[i]!.modelsCreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      const t = after[i]!.timeouts as { request?: string; backendRequest?: string } | undefined;
      expect(t?.request).toBeDefined();
    });
    const again = review(admissionReview(patched), 'mutate', deps());
    expect(again.review.response.patch).toBeUndefined();
  });

  it('denies the real stream_idle_timeout example once its idle timeout reaches its 30s request timeout', () => {
    const input = readJson<AdmissionReviewRequest>(join(SHARED, 'fixtures/admission-reviews/aigatewayroute-example-stream-idle-timeout-create-validate.json'));
    const rules = (input.request.object as { spec: { rules: Array<Record<string, unknown>> } }).spec.rules;
    rules[1]!.streamIdleTimeout = '30s';
    const { review: out } = review(input, 'validate', deps());
    expect(out.response.allowed).toBe(false);
    expect(out.response.status!.message).toBe(
      '[stream-idle-within-request] spec.rules[1].streamIdleTimeout: spec.rules[1] (unnamed): streamIdleTimeout 30s is not shorter than the 30s bound on one attempt ' +
        '(timeouts.request 30s; no timeouts.backendRequest), so the idle timer can never fire first and a silent model is never failed over. ' +
        'Fix: set streamIdleTimeout below 30s (e.g. 15s), or raise timeouts.request above 30s.',
    );
  });

  it('the dry-run body is answered the same way as the real one', () => {
    const dry = parseAdmissionReview(readJson(join(SHARED, 'fixtures/admission-reviews/aigatewayroute-create-dryrun-validate.json')));
    expect(dry.request.dryRun).toBe(true);
    const real = parseAdmissionReview(readJson(join(SHARED, 'fixtures/admission-reviews/aigatewayroute-create-dryrun-validate.json')));
    real.request.dryRun = false;
    const answer = (r: AdmissionReviewRequest) => review(r, 'validate', deps({ world: cluster() })).review.response;
    expect(answer(dry)).toEqual(answer(real));
    expect(answer(dry).allowed).toBe(true);
  });
});

describe.runIf(HAS_SHARED)('upstream examples (../shared/fixtures/examples/ai-gateway)', () => {
  const routes: Array<[string, KubeObject, MemoryWorld]> = [];
  if (HAS_SHARED) {
    for (const f of listFiles(join(SHARED, 'fixtures/examples/ai-gateway'), '.yaml')) {
      // Each example file is applied as a whole: its BackendTrafficPolicies are the world its routes see.
      const objects = yamlObjects(f);
      for (const o of objects) if (o.kind === 'AIGatewayRoute') routes.push([`${basename(f)} ${o.metadata?.name}`, o, new MemoryWorld(objects)]);
    }
  }
  // provider_fallback/base.yaml has two priority levels; its BackendTrafficPolicy lives in fallback.yaml, which is not among the fixtures.
  const flagged: Record<string, string[]> = {
    'examples__provider_fallback__base.yaml provider-fallback': ['fallover-retry-missing'],
    // Its AIServiceBackend names Backend envoy-ai-gateway-basic-openai (defined in basic.yaml), not the file's own
    // Backend envoy-ai-gateway-basic-anthropic-openai: applied alone, the ref does not resolve and the local vLLM Backend is unused.
    'examples__basic__anthropic-openai-local.yaml envoy-ai-gateway-basic-anthropic-openai': ['unresolved-backend'],
    // route2-ns/route2-backend names Backend route1-backend in route2-ns; the file puts Backend route2-backend in route1-ns.
    'tests__e2e-namespaced__testdata__namespaced.yaml route2': ['unresolved-backend'],
  };

  it('finds every AIGatewayRoute in the examples', () => {
    expect(routes.length).toBe(43);
  });

  // None of the valid upstream examples deserves a timeout finding; the CEL-rejected ones break rules our policies do not judge.
  // Each file is its own world, so a file that holds AIServiceBackends (or Backends) has its references judged.
  it.each(routes)('%s: no finding', (name, obj, world) => {
    const { verdict } = review(admissionReview(obj), 'validate', deps({ world }));
    expect(verdict.findings.map((f) => f.policy)).toEqual(flagged[name] ?? []);
  });
});
