/**
 * Issue 17: each way the model used to disagree with what Envoy Gateway v1.8.1 and AI Gateway v1.1.0 build, with the
 * exact finding or the exact `explain` lines.
 */
import { describe, expect, it } from 'vitest';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { routeFallover } from '../../src/model/fallover.js';
import { btpRef, labelsMatch, refusedValues } from '../../src/model/btp.js';
import { explain, renderText, worldOf } from '../../src/explain/explain.js';
import { admissionReview, deps, modelMatch, retryPolicy, route } from '../helpers.js';
import type { KubeObject } from '../../src/kube/types.js';

const POLICIES = new PolicySet(ALL_POLICIES);
const findings = (obj: KubeObject, world: KubeObject[]) =>
  review(admissionReview(obj), 'validate', deps({ world: new MemoryWorld(world) })).verdict.findings.map((f) => [f.policy, f.mode, f.path, f.message]);
const explained = (objects: KubeObject[]) => {
  const { world, routes } = worldOf(objects);
  return renderText(explain(world, routes, POLICIES, new Date('2026-11-28T00:00:00Z'))).split('\n');
};
const labelled = (labels: Record<string, string>, rules: unknown[]): KubeObject => {
  const r = route(rules);
  return { ...r, metadata: { ...r.metadata, labels } };
};
const chatRule = (backendRefs: unknown[], extra: Record<string, unknown> = {}) => ({
  name: 'chat',
  matches: modelMatch('gpt-5'),
  streamIdleTimeout: '5s',
  timeouts: { request: '30s' },
  backendRefs,
  ...extra,
});
const TWO = [
  { name: 'openai', priority: 0 },
  { name: 'anthropic', priority: 1 },
];
const WORKING = {
  numRetries: 2,
  numAttemptsPerPriority: 1,
  retryOn: { triggers: ['reset', 'connect-failure', 'retriable-status-codes'], httpStatusCodes: [502, 503, 504] },
};
const selectorPolicy = (selector: Record<string, unknown>, retry: unknown = WORKING, namespace = 'team-a'): KubeObject => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'BackendTrafficPolicy',
  metadata: { name: 'by-label', namespace },
  spec: { targetSelectors: [{ kind: 'HTTPRoute', ...selector }], retry },
});
const asb = (name: string): KubeObject => ({
  apiVersion: 'aigateway.envoyproxy.io/v1beta1',
  kind: 'AIServiceBackend',
  metadata: { name, namespace: 'team-a' },
  spec: { schema: { name: 'OpenAI' }, backendRef: { group: 'gateway.envoyproxy.io', kind: 'Backend', name } },
});
const backend = (name: string, endpoints: unknown[]): KubeObject => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'Backend',
  metadata: { name, namespace: 'team-a' },
  spec: { endpoints },
});
const fqdn = (hostname: string) => ({ fqdn: { hostname, port: 443 } });

describe('1. targetSelectors select the generated HTTPRoute by the AIGatewayRoute labels, in the policy namespace', () => {
  it('a selected route gets the retry: no fallover-retry-missing, and explain names the selector', () => {
    const r = labelled({ app: 'chat', tier: 'gold' }, [chatRule(TWO)]);
    const btp = selectorPolicy({ matchLabels: { app: 'chat' }, matchExpressions: [{ key: 'tier', operator: 'In', values: ['gold'] }] });
    expect(findings(r, [btp])).toEqual([]);
    const lines = explained([r, btp]);
    expect(lines.slice(0, 5)).toEqual([
      'AIGatewayRoute team-a/chat',
      '  spec.rules[0] ("chat"): falls over: priority 1 is tried at 5.025s (attempt 2) when priority 0 stays silent',
      '    priorities: 0 (openai), 1 (anthropic)',
      '    timeouts: route 30s (timeouts.request 30s; no timeouts.backendRequest), idle 5s',
      "    retry: BackendTrafficPolicy team-a/by-label (route-level): numRetries 2, numAttemptsPerPriority 1 (previous_priorities), retry_on reset,connect-failure,retriable-status-codes, status codes 502,503,504, back-off jittered, base 25ms, max 250ms (Envoy's default)",
    ]);
    expect(routeFallover(r, [btp]).rules[0]!.attached.map((a) => a.target)).toEqual(['HTTPRoute team-a/chat (by label, spec.targetSelectors[0])']);
  });

  it('a selector in another namespace, or that the labels do not satisfy, selects nothing', () => {
    const r = labelled({ app: 'chat' }, [chatRule(TWO)]);
    expect(routeFallover(r, [selectorPolicy({ matchLabels: { app: 'chat' } }, WORKING, 'team-b')]).rules[0]!.retry).toBeUndefined();
    expect(routeFallover(r, [selectorPolicy({ matchLabels: { app: 'other' } })]).rules[0]!.retry).toBeUndefined();
    expect(routeFallover(r, [selectorPolicy({ matchLabels: { app: 'chat' }, group: 'example.com' })]).rules[0]!.retry).toBeUndefined();
  });

  it('label selector operators follow Kubernetes (an invalid requirement selects nothing)', () => {
    const sel = (matchExpressions: Array<{ key: string; operator: string; values: string[] }>) => ({ matchLabels: {}, matchExpressions });
    expect(labelsMatch(sel([{ key: 'a', operator: 'NotIn', values: ['x'] }]), { b: '1' })).toBe(true);
    expect(labelsMatch(sel([{ key: 'a', operator: 'Exists', values: [] }]), { b: '1' })).toBe(false);
    expect(labelsMatch(sel([{ key: 'a', operator: 'DoesNotExist', values: [] }]), { b: '1' })).toBe(true);
    expect(labelsMatch(sel([{ key: 'a', operator: 'In', values: [] }]), { a: '1' })).toBe(false);
    expect(labelsMatch(sel([{ key: 'a', operator: 'Gt', values: ['1'] }]), { a: '2' })).toBe(false);
    expect(labelsMatch(sel([]), {})).toBe(true);
  });
});

describe('2. weight-0 backendRefs are dropped: a level made only of them does not exist', () => {
  it('one level left: nothing to fall over to, and attempt 2 stays on priority 0', () => {
    const r = route([chatRule([{ name: 'openai', priority: 0 }, { name: 'anthropic', priority: 1, weight: 0 }])]);
    const m = routeFallover(r, [retryPolicy({ retry: WORKING })]).rules[0]!;
    expect(m.levels).toEqual([{ priority: 0, backends: ['openai'] }]);
    expect(m.attempts.map((a) => a.priority)).toEqual([0, 0, 0]);
    expect(m.verdict).toBe('one priority level: nothing to fall over to (a retry can only reach priority 0 again)');
    expect(findings(r, [retryPolicy({ retry: WORKING })])).toEqual([
      [
        'stream-idle-needs-fallover-target',
        'warn',
        'spec.rules[0].streamIdleTimeout',
        'spec.rules[0] ("chat"): streamIdleTimeout 5s is set but its only backendRef with weight has priority 0 (Envoy Gateway drops the one with weight 0, so its level does not exist), so when the timer fires there is no next priority to fall over to: at most a retry goes to the same backends again. ' +
          'Fix: add a backendRef with priority 1 on a different provider, or remove streamIdleTimeout.',
      ],
    ]);
  });
});

describe('3. every priority level: reachable or not by numRetries and numAttemptsPerPriority', () => {
  const three = [
    { name: 'openai', priority: 0 },
    { name: 'anthropic', priority: 1 },
    { name: 'mistral', priority: 2 },
  ];
  it('numRetries 1 reaches priority 1 but never priority 2: a finding and the reach line', () => {
    const r = route([chatRule(three)]);
    const btp = retryPolicy({ retry: { ...WORKING, numRetries: 1 } });
    expect(findings(r, [btp])).toEqual([
      [
        'fallover-priority-unreachable',
        'warn',
        'spec.rules[0]',
        'spec.rules[0] ("chat"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numRetries 1 and numAttemptsPerPriority 1: a failing request makes 2 attempts, 1 per level, ' +
          'so priority 2 (mistral) is never tried (the first attempt there would be 3). Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numRetries to 2 or more to reach priority 2.',
      ],
    ]);
    expect(explained([r, btp]).filter((l) => l.includes('reach:'))).toEqual([
      '    reach: priority 0 on attempt 1; priority 1 on attempt 2; priority 2 never (it is first tried on attempt 3 (2 × numAttemptsPerPriority 1 + 1), but numRetries 1 allows 2)',
    ]);
  });

  it('numRetries 4 with numAttemptsPerPriority 2 reaches all three (attempts 1, 3, 5)', () => {
    const m = routeFallover(route([chatRule(three)]), [retryPolicy({ retry: { ...WORKING, numRetries: 4, numAttemptsPerPriority: 2 } })]).rules[0]!;
    expect(m.reach).toEqual([
      { priority: 0, attempt: 1 },
      { priority: 1, attempt: 3 },
      { priority: 2, attempt: 5 },
    ]);
  });
});

describe('4. zone-aware load balancing splits the rule into one cluster per backend', () => {
  it('preferLocal: priorities do nothing, a retry stays on the picked backend, and explain says so', () => {
    const r = route([chatRule(TWO)]);
    const btp = retryPolicy({ retry: WORKING, spec: { loadBalancer: { type: 'RoundRobin', zoneAware: { preferLocal: {} } } } });
    expect(findings(r, [btp])).toEqual([
      [
        'fallover-priorities-ignored',
        'warn',
        'spec.rules[0].backendRefs',
        'spec.rules[0] ("chat"): BackendTrafficPolicy team-a/chat-retry sets spec.loadBalancer.zoneAware.preferLocal (zone-aware load balancing), so Envoy Gateway builds one cluster per backend and splits the rule\'s traffic by weight: ' +
          'anthropic (after priority 0) gets about 50% of first attempts, and a retry stays on the backend picked for the request, so a failed request never falls over by priority. ' +
          'Fix: remove spec.loadBalancer.zoneAware.preferLocal from BackendTrafficPolicy team-a/chat-retry, or give this route a BackendTrafficPolicy of its own without zone-aware load balancing.',
      ],
    ]);
    const lines = explained([r, btp]);
    expect(lines.filter((l) => l.includes('reach:'))).toEqual(['    reach: priority 0 on attempt 1; priority 1 never (one cluster per backend: a retry stays on the backend picked for the request)']);
    expect(lines[1]).toBe(
      '  spec.rules[0] ("chat"): does NOT fall over by priority: BackendTrafficPolicy team-a/chat-retry sets spec.loadBalancer.zoneAware.preferLocal (zone-aware load balancing), so Envoy Gateway builds one cluster per backend and splits traffic by weight; a retry stays on the backend picked for the request',
    );
    expect(lines.filter((l) => l.includes('attempt ') && !l.includes('reach'))).toEqual([
      '      attempt 1 → the backend picked by weight (of openai, anthropic), idle timeout 5s → reset → retried (trigger reset), back-off up to 25ms (jittered)',
      '      → attempt 2 at 5.025s → the same backend as attempt 1 (of openai, anthropic), idle timeout 5s → reset → retried (trigger reset), back-off up to 75ms (jittered)',
      '      → attempt 3 at 10.1s → the same backend as attempt 1 (of openai, anthropic), idle timeout 5s → reset → stops: numRetries 2 used up: 504',
    ]);
    expect(lines.join('\n')).not.toContain('may land on any backend');
  });

  it('weightedZones too; an IP Backend next to a unix-socket one is a split by address type', () => {
    const r = route([chatRule(TWO)]);
    expect(routeFallover(r, [retryPolicy({ retry: WORKING, spec: { loadBalancer: { type: 'RoundRobin', zoneAware: { weightedZones: [{ zone: 'a', weight: 1 }] } } } })]).rules[0]!.split).toEqual({
      kind: 'zone-aware',
      btp: { namespace: 'team-a', name: 'chat-retry' },
      field: 'spec.loadBalancer.zoneAware.weightedZones',
    });
    const world = [asb('openai'), asb('anthropic'), backend('openai', [{ ip: { address: '10.0.0.7', port: 8000 } }]), backend('anthropic', [{ unix: { path: '/var/run/llm.sock' } }])];
    const m = explain(worldOf([r, retryPolicy({ retry: WORKING }), ...world]).world, [r], POLICIES, new Date()).routes[0]!.rules[0]!;
    expect(m.split).toEqual({ kind: 'address-types', types: ['IP', 'UDS'] });
  });
});

describe('5. btp-retry-refused: back-off values Envoy Gateway refuses are denied on the BackendTrafficPolicy', () => {
  it.each([
    [{ baseInterval: '0s' }, 'spec.retry.perRetry.backOff.baseInterval', 'baseInterval 0s', 'baseInterval cannot be set to 0s', "set spec.retry.perRetry.backOff.baseInterval above 0s (e.g. 100ms), or remove it for Envoy's 25ms default"],
    [{ baseInterval: '100ms', maxInterval: '0ms' }, 'spec.retry.perRetry.backOff.maxInterval', 'maxInterval 0ms', 'maxInterval cannot be set to 0s', 'set spec.retry.perRetry.backOff.maxInterval above 0s, or remove it (Envoy then uses 10 × baseInterval)'],
    [{ baseInterval: '2s', maxInterval: '1s' }, 'spec.retry.perRetry.backOff.maxInterval', 'maxInterval 1s', 'maxInterval cannot be less than baseInterval', 'set spec.retry.perRetry.backOff.maxInterval to baseInterval or more, or remove it (Envoy then uses 10 × baseInterval)'],
  ])('%j', (backOff, path, what, error, fix) => {
    const btp = retryPolicy({ retry: { ...WORKING, perRetry: { backOff } } });
    expect(findings(btp, [route([chatRule(TWO)])]).filter((f) => f[0] === 'btp-retry-refused')).toEqual([
      [
        'btp-retry-refused',
        'deny',
        path,
        `${what} is accepted by the CRD but refused by Envoy Gateway ("Retry: ${error}."), which marks BackendTrafficPolicy team-a/chat-retry Invalid and answers every request on the routes it targets with HTTP 500: ` +
          `AIGatewayRoute team-a/chat would stop serving every model. Fix: ${fix}.`,
      ],
    ]);
  });

  it('accepted back-offs (equal intervals, only one set) are not refused', () => {
    expect(refusedValues(retryPolicy({ retry: { perRetry: { backOff: { baseInterval: '1s', maxInterval: '1s' } } } }))).toEqual([]);
    expect(refusedValues(retryPolicy({ retry: { perRetry: { backOff: { maxInterval: '1s' } } } }))).toEqual([]);
    expect(refusedValues(retryPolicy({ retry: { perRetry: { timeout: '0s' } } }))).toEqual([]);
  });
});

describe('9. consequences stated as upstream has them', () => {
  it('a Backend mixing IP and unix-socket endpoints is refused as a backendRef: its weight answers 500', () => {
    const r = route([chatRule(TWO)]);
    const world = [asb('openai'), asb('anthropic'), backend('openai', [fqdn('api.openai.com')]), backend('anthropic', [{ ip: { address: '10.0.0.7', port: 8000 } }, { unix: { path: '/run/a.sock' } }]), retryPolicy({ retry: WORKING })];
    expect(findings(r, world)).toEqual([
      [
        'unresolved-backend',
        'warn',
        'spec.rules[0].backendRefs[1]',
        'spec.rules[0] ("chat"): backendRef "anthropic" reaches Backend team-a/anthropic (through AIServiceBackend team-a/anthropic), whose endpoints mix address types (10.0.0.7:8000, unix:/run/a.sock), which Envoy Gateway refuses as a backendRef. ' +
          "Until it resolves, Envoy Gateway answers its weight share of the rule's requests with HTTP 500, and builds one cluster per backend for this rule and splits its traffic by weight, so its priorities do nothing. " +
          'Fix: give Backend team-a/anthropic endpoints of one type (ip or unix), or split it into one Backend per type.',
      ],
    ]);
  });

  it('fallover-retry-triggers no longer names as lost what the status codes retry', () => {
    const r = route([{ ...chatRule(TWO), streamIdleTimeout: undefined }]);
    const btp = retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, retryOn: { triggers: ['connect-failure', 'retriable-status-codes'], httpStatusCodes: [502, 503, 504] } } });
    const [f] = findings(r, [btp]).filter((x) => x[0] === 'fallover-retry-triggers');
    expect(f![3]).toContain('so a reset or an HTTP 500 from priority 0 (openai) goes back to the client without trying priority 1 (anthropic); only connection failures, HTTP 502, 503, 504 are retried.');
  });
});

describe('10. a policy without metadata.namespace is in default, as kubectl sends it', () => {
  it('btpRef and explain -f agree with check', () => {
    const btp = retryPolicy({ retry: WORKING });
    delete (btp.metadata as { namespace?: string }).namespace;
    expect(btpRef(btp)).toEqual({ namespace: 'default', name: 'chat-retry' });
    const r = route([chatRule(TWO)], 'chat', 'default');
    delete (r.metadata as { namespace?: string }).namespace;
    expect(explained([r, btp])[0]).toBe('AIGatewayRoute default/chat');
    expect(explained([r, btp])[1]).toBe('  spec.rules[0] ("chat"): falls over: priority 1 is tried at 5.025s (attempt 2) when priority 0 stays silent');
  });
});
