import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { insertByPriority } from '../../src/model/aigatewayroute.js';
import { routeFallover } from '../../src/model/fallover.js';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { providerLevels, repeatsProvider, resolveRule } from '../../src/model/providers.js';
import { providerData } from '../../policies/provider-shared.js';
import { WORLD_KEYS } from '../../src/model/kinds.js';
import { admissionReview, deps, modelMatch, retryPolicy, route } from '../helpers.js';
import type { KubeObject } from '../../src/kube/types.js';

const asb = (name: string, backend = name, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'aigateway.envoyproxy.io/v1beta1',
  kind: 'AIServiceBackend',
  metadata: { name, namespace: 'team-a' },
  spec: { schema: { name: 'OpenAI' }, backendRef: { name: backend, kind: 'Backend', group: 'gateway.envoyproxy.io', ...extra } },
});
const backend = (name: string, endpoints: unknown[], namespace = 'team-a'): KubeObject => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'Backend',
  metadata: { name, namespace },
  spec: { endpoints },
});
const fqdn = (hostname: string, port = 443) => ({ fqdn: { hostname, port } });
const ip = (address: string, port = 8000) => ({ ip: { address, port } });

/** team-a/chat: gpt-5 on `first` at priority 0, gpt-5-mini on `second` at priority 1; idle 5s, request 30s. */
const chat = (first = 'openai', second = 'openai-mini') =>
  route([
    {
      name: 'chat',
      matches: modelMatch('gpt-5'),
      streamIdleTimeout: '5s',
      timeouts: { request: '30s' },
      backendRefs: [
        { name: first, priority: 0 },
        { name: second, priority: 1, modelNameOverride: 'gpt-5-mini' },
      ],
    },
  ]);

/** The parts every message of a kind shares, so each case below reads as what differs. */
const SPLIT = "Until it resolves, Envoy Gateway answers its weight share of the rule's requests with HTTP 500, and builds one cluster per backend for this rule and splits its traffic by weight, so its priorities do nothing.";
const ROUTE_FAILS = 'Until it resolves, the AI Gateway controller fails the whole route: it generates no HTTPRoute for AIGatewayRoute team-a/chat (or stops updating the one it made), so no rule of it is served or changed.';
const SAME_PROVIDER_COST = 'When that provider hangs or is down, every model behind it fails alike, so falling over to priority 1 spends another 5s (streamIdleTimeout 5s) and still fails. Fix: put a different provider (a Backend with another host) at priority 1. A second model on the same provider still helps when only the priority 0 model is overloaded (429 or 503), so keep it as a later level if you want that.';

const ONLY = new PolicySet(ALL_POLICIES.filter((p) => ['fallover-same-provider', 'fallover-priorities-ignored', 'unresolved-backend'].includes(p.id)));
const findings = (obj: KubeObject, world: KubeObject[], policies: PolicySet = ONLY) =>
  review(admissionReview(obj), 'validate', deps({ world: new MemoryWorld(world), policies })).verdict.findings.map((f) => [f.policy, f.mode, f.path, f.message]);

describe('provider resolution', () => {
  it('follows backendRef → AIServiceBackend → Backend → endpoints; InferencePool is its own endpoint', () => {
    const r = route([
      { name: 'a', backendRefs: [{ name: 'openai' }, { name: 'local', priority: 1 }, { name: 'sock', priority: 2 }] },
      { name: 'b', backendRefs: [{ name: 'pool', group: 'inference.networking.k8s.io', kind: 'InferencePool' }] },
    ]);
    const world = new MemoryWorld([
      asb('openai'),
      asb('local', 'vllm', { namespace: 'models' }),
      asb('sock'),
      backend('openai', [fqdn('api.openai.com')]),
      backend('vllm', [ip('10.0.0.7'), ip('fd00::7')], 'models'),
      backend('sock', [{ unix: { path: '/var/run/llm.sock' } }]),
    ]);
    const rules = (r.spec as { rules: never[] }).rules;
    expect(resolveRule(r, rules[0]!, 0, providerData(world)).map((x) => [x.path, x.backend, x.resolution])).toEqual([
      ['spec.rules[0].backendRefs[0]', { namespace: 'team-a', name: 'openai' }, { state: 'resolved', endpoints: [{ kind: 'fqdn', host: 'api.openai.com', port: 443 }] }],
      [
        'spec.rules[0].backendRefs[1]',
        { namespace: 'models', name: 'vllm' },
        { state: 'resolved', endpoints: [{ kind: 'ip', address: '10.0.0.7', port: 8000 }, { kind: 'ip', address: 'fd00::7', port: 8000 }] },
      ],
      ['spec.rules[0].backendRefs[2]', { namespace: 'team-a', name: 'sock' }, { state: 'resolved', endpoints: [{ kind: 'unix', path: '/var/run/llm.sock' }] }],
    ]);
    expect(resolveRule(r, rules[1]!, 1, providerData(world)).map((x) => x.resolution)).toEqual([
      { state: 'resolved', endpoints: [{ kind: 'inference-pool', namespace: 'team-a', name: 'pool' }] },
    ]);
  });

  it('a world without AIServiceBackends or Backends cannot say one is missing; a world that holds some can', () => {
    const r = chat();
    const rule = (r.spec as { rules: never[] }).rules[0]!;
    expect(resolveRule(r, rule, 0, providerData(new MemoryWorld([r]))).map((x) => x.resolution)).toEqual([
      { state: 'unknown', missingKind: 'AIServiceBackend' },
      { state: 'unknown', missingKind: 'AIServiceBackend' },
    ]);
    expect(resolveRule(r, rule, 0, providerData(new MemoryWorld([asb('openai')]))).map((x) => x.resolution)).toEqual([
      { state: 'unknown', missingKind: 'Backend' },
      { state: 'unresolved', reason: 'no-aiservicebackend' },
    ]);
    // The cluster cache knows a kind in full even when it is empty.
    expect(resolveRule(r, rule, 0, providerData(new MemoryWorld([], { complete: [WORLD_KEYS.aiServiceBackend] }))).map((x) => x.resolution.state)).toEqual(['unresolved', 'unresolved']);
  });

  it('hosts compare case-insensitively and without the trailing dot; a different port is a different endpoint', () => {
    const world = (second: unknown) => new MemoryWorld([asb('openai'), asb('openai-mini'), backend('openai', [fqdn('api.openai.com')]), backend('openai-mini', [second])]);
    const r = chat();
    const rule = (r.spec as { rules: never[] }).rules[0]!;
    const repeats = (second: unknown) => {
      const [p0, p1] = providerLevels(resolveRule(r, rule, 0, providerData(world(second))));
      return repeatsProvider(p1!, p0!);
    };
    expect(repeats(fqdn('API.OpenAI.com.'))).toBe(true);
    expect(repeats(fqdn('api.openai.com', 8443))).toBe(false);
  });
});

describe('provider policies over worlds of AIGatewayRoute + AIServiceBackend + Backend + BackendTrafficPolicy', () => {
  it('same Backend at both levels', () => {
    expect(findings(chat('openai', 'openai'), [asb('openai'), backend('openai', [fqdn('api.openai.com')]), retryPolicy()])).toEqual([
      [
        'fallover-same-provider',
        'warn',
        'spec.rules[0].backendRefs[1]',
        `spec.rules[0] ("chat"): priority 1 (openai, model gpt-5-mini) reaches the same provider endpoint as priority 0 (openai, model gpt-5): api.openai.com:443 (Backend team-a/openai). ${SAME_PROVIDER_COST}`,
      ],
    ]);
  });

  it('same host behind two Backends', () => {
    expect(
      findings(chat(), [asb('openai'), asb('openai-mini'), backend('openai', [fqdn('api.openai.com')]), backend('openai-mini', [fqdn('api.openai.com')]), retryPolicy()]),
    ).toEqual([
      [
        'fallover-same-provider',
        'warn',
        'spec.rules[0].backendRefs[1]',
        `spec.rules[0] ("chat"): priority 1 (openai-mini, model gpt-5-mini) reaches the same provider endpoint as priority 0 (openai, model gpt-5): api.openai.com:443 (Backends team-a/openai and team-a/openai-mini). ${SAME_PROVIDER_COST}`,
      ],
    ]);
  });

  it('two providers: no finding', () => {
    expect(findings(chat('openai', 'anthropic'), [asb('openai'), asb('anthropic'), backend('openai', [fqdn('api.openai.com')]), backend('anthropic', [fqdn('api.anthropic.com')]), retryPolicy()])).toEqual([]);
  });

  it('mixed FQDN and IP: priorities ignored', () => {
    expect(findings(chat('openai', 'local'), [asb('openai'), asb('local', 'vllm'), backend('openai', [fqdn('api.openai.com')]), backend('vllm', [ip('10.0.0.7')]), retryPolicy()])).toEqual([
      [
        'fallover-priorities-ignored',
        'warn',
        'spec.rules[0].backendRefs',
        'spec.rules[0] ("chat"): its backends mix address types: openai (Backend team-a/openai, FQDN api.openai.com:443) next to local (Backend team-a/vllm, IP 10.0.0.7:8000). ' +
          "Envoy Gateway then builds one cluster per backend and splits the rule's traffic by weight, so local (after priority 0) gets about 50% of first attempts, and a failed request never falls over by priority: each cluster holds one backend. " +
          "Fix: give every backend of the rule the same address type, e.g. an fqdn endpoint in Backend team-a/vllm (a Service's DNS name such as NAME.NAMESPACE.svc.cluster.local).",
      ],
    ]);
  });

  it('a missing AIServiceBackend, a missing Backend and a Backend without endpoints', () => {
    // openai's Backend is not in this world at all (no Backend of any kind), so only the missing AIServiceBackend speaks.
    expect(findings(chat('openai', 'anthropic'), [asb('openai'), retryPolicy()])).toEqual([
      [
        'unresolved-backend',
        'warn',
        'spec.rules[0].backendRefs[1]',
        `spec.rules[0] ("chat"): backendRef "anthropic" names AIServiceBackend team-a/anthropic, which does not exist. ${ROUTE_FAILS} Fix: create AIServiceBackend team-a/anthropic or correct the name. If it is applied together with this route, this warning is expected until it exists.`,
      ],
    ]);
    expect(findings(chat('openai', 'anthropic'), [asb('openai'), asb('anthropic'), backend('openai', []), retryPolicy()])).toEqual([
      [
        'unresolved-backend',
        'warn',
        'spec.rules[0].backendRefs[0]',
        `spec.rules[0] ("chat"): backendRef "openai" reaches Backend team-a/openai (through AIServiceBackend team-a/openai), which has no endpoints. ${SPLIT} Fix: add spec.endpoints (fqdn, ip or unix) to Backend team-a/openai.`,
      ],
      [
        'unresolved-backend',
        'warn',
        'spec.rules[0].backendRefs[1]',
        `spec.rules[0] ("chat"): backendRef "anthropic" names AIServiceBackend team-a/anthropic, whose spec.backendRef names Backend team-a/anthropic, which does not exist. ${SPLIT} Fix: create Backend team-a/anthropic (group gateway.envoyproxy.io) or correct spec.backendRef of AIServiceBackend team-a/anthropic. If it is applied together with this route, this warning is expected until it exists.`,
      ],
    ]);
  });

  it('the cost of a repeated level follows the timer that ends each attempt there', () => {
    const world = [asb('openai'), backend('openai', [fqdn('api.openai.com')])];
    const cost = (r: KubeObject, extra: KubeObject[]) => {
      const m = findings(r, [...world, ...extra])[0]![3] as string;
      return m.slice(m.indexOf('spends ') + 7, m.indexOf(' and still fails'));
    };
    const twoPerLevel = retryPolicy({ retry: { numRetries: 3, numAttemptsPerPriority: 2, retryOn: { triggers: ['reset'] } } });
    expect(cost(chat('openai', 'openai'), [twoPerLevel])).toBe('another 10s (numAttemptsPerPriority 2 × streamIdleTimeout 5s)');
    const perTry = retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, perRetry: { timeout: '2s' }, retryOn: { triggers: ['reset'] } } });
    expect(cost(chat('openai', 'openai'), [perTry])).toBe('another 2s (perRetry.timeout 2s)');
    const noTimers = route([{ name: 'chat', timeouts: { request: '30s' }, backendRefs: [{ name: 'openai' }, { name: 'openai', priority: 1 }] }]);
    expect(cost(noTimers, [])).toBe('the rest of the route timeout 30s (no idle or per-try timer ends a silent attempt)');
  });

  it("the fallback's share of first attempts comes from the weights", () => {
    const r = route([{ name: 'code', backendRefs: [{ name: 'openai', weight: 3 }, { name: 'local', priority: 1 }] }]);
    const [[, , , message]] = findings(r, [asb('openai'), asb('local', 'vllm'), backend('openai', [fqdn('api.openai.com')]), backend('vllm', [ip('10.0.0.7')])]) as string[][];
    expect(message).toContain('so local (after priority 0) gets about 25% of first attempts');
  });

  it('a route checked alone (no AIServiceBackend in the world) gets none of these findings', () => {
    expect(findings(chat(), [retryPolicy()])).toEqual([]);
  });

  it('unresolved-backend at mode deny still only warns: creation order never denies', () => {
    const denying = new PolicySet(ALL_POLICIES.filter((p) => p.id === 'unresolved-backend'), { 'unresolved-backend': { mode: 'deny' } });
    const out = review(admissionReview(chat()), 'validate', deps({ world: new MemoryWorld([asb('openai'), backend('openai', [fqdn('api.openai.com')])]), policies: denying }));
    expect(out.review.response?.allowed).toBe(true);
    expect(out.verdict.findings.map((f) => [f.policy, f.mode])).toEqual([['unresolved-backend', 'warn']]);
  });
});

describe('priority levels, lowest first', () => {
  it('insertByPriority keeps levels in the order sorting them would, for every order the refs come in', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: -3, max: 20 }), { maxLength: 12 }), (priorities) => {
        const levels: { priority: number }[] = [];
        for (const priority of priorities) insertByPriority(levels, { priority });
        expect(levels.map((l) => l.priority)).toEqual([...priorities].sort((a, b) => a - b));
      }),
      { numRuns: 500 },
    );
  });

  it('groups a rule the same way in the provider and the fall-over model, levels in priority order', () => {
    const rule = { name: 'chat', backendRefs: [{ name: 'c', priority: 2 }, { name: 'a' }, { name: 'z', priority: 1, weight: 0 }, { name: 'b', priority: 1 }, { name: 'd', priority: 2 }] };
    const r = route([rule]);
    const providers = providerLevels(resolveRule(r as never, rule as never, 0, providerData(new MemoryWorld())));
    expect(providers.map((l) => [l.priority, l.refs.map((x) => x.name)])).toEqual([[0, ['a']], [1, ['b']], [2, ['c', 'd']]]);
    expect(routeFallover(r, []).rules[0]!.levels).toEqual([
      { priority: 0, backends: ['a'] },
      { priority: 1, backends: ['b'] },
      { priority: 2, backends: ['c', 'd'] },
    ]);
  });
});
