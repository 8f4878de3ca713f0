import { describe, expect, it } from 'vitest';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { routeFallover } from '../../src/model/fallover.js';
import { WORKING_RETRY, admissionReview, deps, modelMatch, retryPolicy, route } from '../helpers.js';
import type { KubeObject } from '../../src/kube/types.js';

const twoLevels = [
  { name: 'openai', priority: 0 },
  { name: 'anthropic', priority: 1 },
];
/** team-a/chat: one rule "chat", two priority levels, idle 5s, request 30s. */
const chat = (extra: Record<string, unknown> = {}) =>
  route([{ name: 'chat', matches: modelMatch('gpt-5'), streamIdleTimeout: '5s', timeouts: { request: '30s' }, backendRefs: twoLevels, ...extra }]);
const gatewayPolicy = (spec: Record<string, unknown>, name = 'gw-retry'): KubeObject => ({
  apiVersion: 'gateway.envoyproxy.io/v1alpha1',
  kind: 'BackendTrafficPolicy',
  metadata: { name, namespace: 'team-a' },
  spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' }], ...spec },
});
const findings = (obj: KubeObject, world: KubeObject[], policies?: PolicySet) =>
  review(admissionReview(obj), 'validate', deps({ world: new MemoryWorld(world), ...(policies ? { policies } : {}) })).verdict.findings.map((f) => [f.policy, f.path, f.message]);

describe('fall-over policies: one case each, exact findings', () => {
  it("fallover-retry-missing: no BackendTrafficPolicy at all", () => {
    expect(findings(chat(), [])).toEqual([
      [
        "fallover-retry-missing",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): it has 2 priority levels (priority 0 (openai), priority 1 (anthropic)) and streamIdleTimeout 5s, but no BackendTrafficPolicy retry applies to it: none targets HTTPRoute team-a/chat, its rules or its Gateway, so Envoy gets no retry policy: when the 5s idle timer fires Envoy aborts the request with a 504 and never retries it, and priority 1 (anthropic) gets traffic only once health checks eject priority 0, never for a failed request. Fix: apply a BackendTrafficPolicy in namespace team-a with targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: chat}] (or sectionName: chat for this rule only) and retry: {numRetries: 2, numAttemptsPerPriority: 1, retryOn: {triggers: [reset, connect-failure, retriable-status-codes], httpStatusCodes: [502, 503, 504]}}. If one is applied together with this route (kubectl apply -f dir/), this warning is expected; check with aigw-admission explain."
      ]
    ]);
  });

  it("fallover-retry-missing: the route-level policy has no retry", () => {
    expect(findings(chat(), [retryPolicy({ retry: null, spec: { rateLimit: { type: 'Local' } } })])).toEqual([
      [
        "fallover-retry-missing",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): it has 2 priority levels (priority 0 (openai), priority 1 (anthropic)) and streamIdleTimeout 5s, but BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat), the policy that applies to it, has no retry, so Envoy gets no retry policy: when the 5s idle timer fires Envoy aborts the request with a 504 and never retries it, and priority 1 (anthropic) gets traffic only once health checks eject priority 0, never for a failed request. Fix: add retry: {numRetries: 2, numAttemptsPerPriority: 1, retryOn: {triggers: [reset, connect-failure, retriable-status-codes], httpStatusCodes: [502, 503, 504]}} to BackendTrafficPolicy team-a/chat-retry."
      ]
    ]);
  });

  it("fallover-retry-triggers and fallover-priority-unreachable: retry: {} keeps EG defaults", () => {
    expect(findings(chat(), [retryPolicy({ retry: {} })])).toEqual([
      [
        "fallover-retry-triggers",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has retry_on \"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes\" (Envoy Gateway's default, because spec.retry.retryOn has no triggers), with none of reset, 5xx, gateway-error, so when the 5s idle timer fires Envoy aborts the request with a 504 and never retries it; only connection failures, refused streams, HTTP 503, gRPC status unavailable, cancelled are retried. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.retryOn.triggers: [reset, connect-failure, retriable-status-codes] and httpStatusCodes: [502, 503, 504] (reset is what retries a timeout)."
      ],
      [
        "fallover-priority-unreachable",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numAttemptsPerPriority unset, so Envoy Gateway adds no previous_priorities retry plugin and all 2 retries go to priority 0 (openai) while it counts as healthy; priority 1 (anthropic) is reached only after health checks eject priority 0. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numAttemptsPerPriority: 1 (then the first retry goes to priority 1)."
      ]
    ]);
  });

  it("fallover-priority-unreachable: numAttemptsPerPriority unset", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 2, retryOn: { triggers: ['reset'] } } })])).toEqual([
      [
        "fallover-priority-unreachable",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numAttemptsPerPriority unset, so Envoy Gateway adds no previous_priorities retry plugin and all 2 retries go to priority 0 (openai) while it counts as healthy; priority 1 (anthropic) is reached only after health checks eject priority 0. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numAttemptsPerPriority: 1 (then the first retry goes to priority 1)."
      ]
    ]);
  });

  it("fallover-priority-unreachable: numRetries 0", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 0, numAttemptsPerPriority: 1, retryOn: { triggers: ['reset'] } } })])).toEqual([
      [
        "fallover-priority-unreachable",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numRetries 0, which turns every retry off, so priority 1 (anthropic) is never tried for a failed request. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numRetries to 1 or more."
      ]
    ]);
  });

  it("fallover-priority-unreachable: numRetries below numAttemptsPerPriority", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 3, retryOn: { triggers: ['reset'] } } })])).toEqual([
      [
        "fallover-priority-unreachable",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numRetries 2 below numAttemptsPerPriority 3: the first 3 attempts all go to priority 0 (openai) and there are only 3, so priority 1 (anthropic) is never tried. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numRetries to 3 or more, or numAttemptsPerPriority to 2."
      ]
    ]);
  });

  it("fallover-budget: 3 \u00d7 10s + 3 \u00d7 100ms is not below the 30s route timeout", () => {
    expect(findings(chat({ streamIdleTimeout: '10s' }), [retryPolicy({ retry: { numRetries: 3, numAttemptsPerPriority: 3, perRetry: { backOff: { baseInterval: '100ms' } }, retryOn: { triggers: ['reset'] } } })])).toEqual([
      [
        "fallover-budget",
        "spec.rules[0].streamIdleTimeout",
        "spec.rules[0] (\"chat\"): reaching priority 1 (anthropic) takes numAttemptsPerPriority 3 × streamIdleTimeout 10s + 3 × back-off 100ms = 30.3s of silence on priority 0, but the route timeout 30s (timeouts.request 30s; no timeouts.backendRequest) ends the request at 30s, 300ms short, and the route timeout is never retried: the client gets a 504 before priority 1 is tried. Fix: raise timeouts.request above 30.3s (e.g. 40.3s, leaving priority 1 time to answer), lower streamIdleTimeout below 9.9s, or set numAttemptsPerPriority to 2 in BackendTrafficPolicy team-a/chat-retry."
      ]
    ]);
  });

  it("retry-status-codes-ignored: codes without the retriable-status-codes trigger", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, retryOn: { triggers: ['reset'], httpStatusCodes: [429] } } })])).toEqual([
      [
        "retry-status-codes-ignored",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) lists httpStatusCodes [429] but its triggers [reset] lack retriable-status-codes, and Envoy checks the codes only under that trigger: HTTP 429 is never retried. Fix: in BackendTrafficPolicy team-a/chat-retry add retriable-status-codes to spec.retry.retryOn.triggers."
      ]
    ]);
  });

  it("retry-status-codes-ignored: the trigger without codes", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, retryOn: { triggers: ['reset', 'retriable-status-codes'] } } })])).toEqual([
      [
        "retry-status-codes-ignored",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has the retriable-status-codes trigger but no httpStatusCodes: once triggers are set Envoy Gateway sends an empty code list (its default 503 is dropped), so the trigger matches nothing and not even HTTP 503 is retried. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.retryOn.httpStatusCodes, e.g. [502, 503, 504]."
      ]
    ]);
  });

  it("per-retry-timeout: not below the route timeout", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, perRetry: { timeout: '30s' }, retryOn: { triggers: ['reset'] } } })])).toEqual([
      [
        "per-retry-timeout",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) sets perRetry.timeout 30s, not below the route timeout 30s (timeouts.request 30s; no timeouts.backendRequest), so Envoy drops it and attempts get no per-try limit. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.perRetry.timeout below 30s, or remove it."
      ]
    ]);
  });

  it("per-retry-timeout: shorter than streamIdleTimeout", () => {
    expect(findings(chat(), [retryPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, perRetry: { timeout: '2s' }, retryOn: { triggers: ['reset'] } } })])).toEqual([
      [
        "per-retry-timeout",
        "spec.rules[0].streamIdleTimeout",
        "spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) sets perRetry.timeout 2s, shorter than streamIdleTimeout 5s: it applies to every attempt, the first one included, so it fires first and cuts any attempt whose response headers take longer than 2s, healthy ones too, while the idle timeout only acts mid-stream. Fix: in BackendTrafficPolicy team-a/chat-retry remove spec.retry.perRetry.timeout, or set it above 5s."
      ]
    ]);
  });

  it("btp-target-not-found on a BackendTrafficPolicy write", () => {
    expect(findings(retryPolicy({ route: 'chta' }), [chat()])).toEqual([
      [
        "btp-target-not-found",
        "spec.targetRefs[0].name",
        "BackendTrafficPolicy team-a/chta-retry targets HTTPRoute team-a/chta, but no AIGatewayRoute chta exists in namespace team-a (AIGatewayRoutes there: chat), so no generated HTTPRoute has that name: Envoy Gateway skips the policy without writing any status, and nothing in it (retry included) applies. Fix: set spec.targetRefs[0].name to the AIGatewayRoute's name (its generated HTTPRoute has the same name and namespace), or create the policy in the route's namespace. If the route is applied together with this policy (kubectl apply -f dir/), this warning is expected."
      ]
    ]);
  });

  it("btp-section-not-found on a BackendTrafficPolicy write", () => {
    expect(findings(retryPolicy({ sectionName: 'chta' }), [chat()])).toEqual([
      [
        "btp-section-not-found",
        "spec.targetRefs[0].sectionName",
        "BackendTrafficPolicy team-a/chat-retry targets sectionName \"chta\" of HTTPRoute team-a/chat, but no rule of AIGatewayRoute team-a/chat is named \"chta\" (rule names: \"chat\"): Envoy Gateway reports Accepted=False with reason TargetNotFound only in the policy status, and the policy applies to no rule (its retry included). Fix: set spec.targetRefs[0].sectionName to one of \"chat\", or name the rule \"chta\" in AIGatewayRoute team-a/chat."
      ]
    ]);
  });

  it("btp-overrides-retry: a route-level policy without retry or mergeType replaces the Gateway retry", () => {
    expect(findings(chat(), [gatewayPolicy({ retry: { numRetries: 2, numAttemptsPerPriority: 1, retryOn: { triggers: ['reset'] } } }), retryPolicy({ retry: null, spec: { rateLimit: { type: 'Local' } } })])).toEqual([
      [
        "btp-overrides-retry",
        "spec.rules[0]",
        "spec.rules[0] (\"chat\"): BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has no retry and no mergeType, so Envoy Gateway uses it whole instead of the Gateway-level policy, which silently drops the retry of BackendTrafficPolicy team-a/gw-retry (Gateway-level, Gateway team-a/ai-gateway) for this rule: Envoy gets no retry policy, so a failed or silent model is never retried and the rule never falls over. Fix: add spec.mergeType: StrategicMerge to BackendTrafficPolicy team-a/chat-retry so it merges with BackendTrafficPolicy team-a/gw-retry, or copy the retry block into it."
      ]
    ]);
  });

  it("on a BackendTrafficPolicy write: retry: {} for a route with a streamIdleTimeout", () => {
    expect(findings(retryPolicy({ retry: {} }), [chat()])).toEqual([
      [
        "fallover-retry-triggers",
        "spec.retry",
        "AIGatewayRoute team-a/chat spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has retry_on \"connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes\" (Envoy Gateway's default, because spec.retry.retryOn has no triggers), with none of reset, 5xx, gateway-error, so when the 5s idle timer fires Envoy aborts the request with a 504 and never retries it; only connection failures, refused streams, HTTP 503, gRPC status unavailable, cancelled are retried. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.retryOn.triggers: [reset, connect-failure, retriable-status-codes] and httpStatusCodes: [502, 503, 504] (reset is what retries a timeout)."
      ],
      [
        "fallover-priority-unreachable",
        "spec.retry.numAttemptsPerPriority",
        "AIGatewayRoute team-a/chat spec.rules[0] (\"chat\"): the retry of BackendTrafficPolicy team-a/chat-retry (route-level, HTTPRoute team-a/chat) has numAttemptsPerPriority unset, so Envoy Gateway adds no previous_priorities retry plugin and all 2 retries go to priority 0 (openai) while it counts as healthy; priority 1 (anthropic) is reached only after health checks eject priority 0. Fix: in BackendTrafficPolicy team-a/chat-retry set spec.retry.numAttemptsPerPriority: 1 (then the first retry goes to priority 1)."
      ]
    ]);
  });

  it('no finding for the upstream stream_idle_timeout shape', () => {
    expect(findings(chat(), [retryPolicy()])).toEqual([]);
    expect(findings(retryPolicy(), [chat()])).toEqual([]);
  });
});

describe('ordering never denies', () => {
  const allDeny = new PolicySet(ALL_POLICIES, Object.fromEntries(ALL_POLICIES.map((p) => [p.id, { mode: 'deny' as const }])));
  it('a route applied before its BackendTrafficPolicy is only warned, even at mode deny', () => {
    const { review: out, verdict } = review(admissionReview(chat()), 'validate', deps({ policies: allDeny }));
    expect(out.response.allowed).toBe(true);
    expect(verdict.findings.map((f) => [f.policy, f.mode])).toEqual([['fallover-retry-missing', 'warn']]);
  });
  it('a BackendTrafficPolicy applied before its route is only warned, even at mode deny', () => {
    const { review: out, verdict } = review(admissionReview(retryPolicy()), 'validate', deps({ policies: allDeny }));
    expect(out.response.allowed).toBe(true);
    expect(verdict.findings.map((f) => [f.policy, f.mode])).toEqual([['btp-target-not-found', 'warn']]);
  });
  it('a retry that exists but cannot fall over is denied at mode deny', () => {
    const { review: out } = review(admissionReview(retryPolicy({ retry: {} })), 'validate', deps({ policies: allDeny, world: new MemoryWorld([chat()]) }));
    expect(out.response.allowed).toBe(false);
    expect(out.response.status!.message.split('\n').map((l) => l.slice(0, l.indexOf(' ')))).toEqual(['[fallover-retry-triggers]', '[fallover-priority-unreachable]']);
  });
});

describe('effective configuration model', () => {
  const rule = (r: KubeObject, btps: KubeObject[]) => routeFallover(r, btps).rules[0]!;

  it('retry: {} is exactly Envoy Gateway defaults: no reset, code 503, no previous_priorities', () => {
    const m = rule(chat(), [retryPolicy({ retry: {} })]);
    expect(m.retry).toMatchObject({
      numRetries: 2,
      numAttemptsPerPriority: undefined,
      retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
      retryOnDefaulted: true,
      statusCodes: [503],
      previousPriorities: undefined,
      timeoutTrigger: undefined,
    });
    expect(m.attempts.map((a) => [a.number, a.priority, a.end.kind, a.next.retried])).toEqual([[1, 0, 'idle-timeout', false]]);
  });

  it('codes without triggers keep the default retry_on; triggers without codes empty the list', () => {
    expect(rule(chat(), [retryPolicy({ retry: { retryOn: { httpStatusCodes: [429] } } })]).retry).toMatchObject({ retryOnDefaulted: true, statusCodes: [429], statusCodesRetried: ['429'] });
    expect(rule(chat(), [retryPolicy({ retry: { retryOn: { triggers: ['5xx', 'retriable-status-codes'] } } })]).retry).toMatchObject({ statusCodes: [], statusCodesRetried: ['500-599'], timeoutTrigger: '5xx' });
  });

  it('the working shape falls over at 5.1s and the timeline follows previous_priorities', () => {
    const m = rule(chat(), [retryPolicy()]);
    expect(m.retry!.previousPriorities).toEqual({ updateFrequency: 1 });
    expect(m.reachesNextPriority).toBe(true);
    expect(m.attempts.map((a) => [a.number, a.priority, a.startMs, a.next.retried])).toEqual([
      [1, 0, 0, true],
      [2, 1, 5100, true],
      [3, 0, 10400, false],
    ]);
  });

  it('rule-level beats route-level beats Gateway-level, whole block, no field merge', () => {
    const ruleLevel = retryPolicy({ name: 'rule', sectionName: 'chat', retry: { numRetries: 5, numAttemptsPerPriority: 1, retryOn: { triggers: ['5xx'] } } });
    const routeLevel = retryPolicy({ name: 'route', retry: { numRetries: 3 } });
    const gw = gatewayPolicy({ retry: WORKING_RETRY });
    expect(rule(chat(), [gw, routeLevel, ruleLevel]).retry!.from.map((a) => [a.name, a.level])).toEqual([['rule', 'rule']]);
    expect(rule(chat(), [gw, routeLevel]).retry).toMatchObject({ numRetries: 3, numAttemptsPerPriority: undefined, retryOnDefaulted: true });
    expect(rule(chat(), [gw]).retry!.from.map((a) => a.level)).toEqual(['gateway']);
    // An unnamed rule cannot be targeted by sectionName.
    expect(rule(route([{ backendRefs: twoLevels }]), [ruleLevel]).attached).toEqual([]);
  });

  it('a route-level policy with mergeType merges its retry fields over the Gateway retry', () => {
    const m = rule(chat(), [gatewayPolicy({ retry: WORKING_RETRY }), retryPolicy({ retry: { numRetries: 4 }, spec: { mergeType: 'StrategicMerge' } })]);
    expect(m.retry).toMatchObject({ numRetries: 4, numAttemptsPerPriority: 1, retryOn: ['reset', 'connect-failure', 'retriable-status-codes'], statusCodes: [502, 503, 504] });
    expect(m.retry!.from.map((a) => a.name)).toEqual(['gw-retry', 'chat-retry']);
    expect(m.droppedRetries).toEqual([]);
  });

  it('a rule-level policy without retry drops the route-level retry even with mergeType', () => {
    const m = rule(chat(), [retryPolicy({ name: 'route' }), retryPolicy({ name: 'rule', sectionName: 'chat', retry: null, spec: { mergeType: 'StrategicMerge', rateLimit: {} } })]);
    expect(m.retry).toBeUndefined();
    expect(m.droppedRetries.map((d) => [d.dropped.name, d.by.name])).toEqual([['route', 'rule']]);
  });

  it('the route timeout is backendRequest when set, and timeout.http.requestTimeout is noted as ignored', () => {
    const m = rule(chat({ timeouts: { request: '90s', backendRequest: '20s' } }), [retryPolicy({ spec: { timeout: { http: { requestTimeout: '10s' } } } })]);
    expect(m.routeTimeout).toMatchObject({ ms: 20_000, source: 'backendRequest' });
    expect(m.notes).toContain(
      "BackendTrafficPolicy team-a/chat-retry sets timeout.http.requestTimeout 10s, which Envoy Gateway ignores here: the HTTPRoute's own timeout wins",
    );
  });
});
