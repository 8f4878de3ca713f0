/**
 * What Envoy will run for each AIGatewayRoute rule when a model fails or stays silent: which BackendTrafficPolicy (BTP)
 * retry applies, its effective `retry_on` after Envoy Gateway's defaults, the priority levels and the attempt timeline.
 * Every rule here follows ../shared/docs/failover-facts.md (EG v1.8.1, AIGW v1.1.0); section numbers refer to it.
 * Pure: the route and the BTPs come in as arguments.
 */
import { backendPriority, describeRule, routeRules, ruleBackendRefs, type AIGatewayRoute, type AIGatewayRouteRule } from './aigatewayroute.js';
import { parseDuration } from './duration.js';
import { attemptBound, readRuleTimeouts, type TimeoutSource } from './timeouts.js';
import {
  btpMergeType,
  btpRef,
  btpRequestTimeout,
  btpRetry,
  btpTargets,
  byAge,
  isGatewayTarget,
  isHTTPRouteTarget,
  jsonMerge,
  type BtpRef,
  type RetrySpec,
} from './btp.js';
import type { KubeObject } from '../kube/types.js';

/** EG's `retryDefaultRetryOn` (route.go:31), emitted whenever a BTP has `retry` but no usable `retryOn` (§1). */
export const EG_DEFAULT_TRIGGERS = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] as const;
export const EG_DEFAULT_STATUS_CODES = [503] as const;
/** `numRetries` default (API default and xDS default, §1). */
export const EG_DEFAULT_NUM_RETRIES = 2;
/** The triggers under which Envoy retries a per-try or per-try idle timeout (§2 `wouldRetryFromReset`). */
export const TIMEOUT_RETRY_TRIGGERS = ['reset', '5xx', 'gateway-error'] as const;

export type BtpLevel = 'rule' | 'route' | 'gateway';

export interface AttachedBtp extends BtpRef {
  level: BtpLevel;
  /** For rule level the rule name; for gateway level the Gateway `ns/name` (and listener). */
  target: string;
  mergeType?: string;
  hasRetry: boolean;
}

export interface PriorityLevel {
  priority: number;
  backends: string[];
}

export interface EffectiveRetry {
  /** BTPs whose `retry` fields make up this one (two when a `mergeType` policy merged with the Gateway's). */
  from: AttachedBtp[];
  numRetries: number;
  /** `numAttemptsPerPriority` as written (undefined when unset). */
  numAttemptsPerPriority: number | undefined;
  /** The `retry_on` Envoy gets, in order. */
  retryOn: string[];
  /** True when `retry_on` is EG's default because `retryOn` was omitted or empty. */
  retryOnDefaulted: boolean;
  /** `retriable_status_codes`. */
  statusCodes: number[];
  /** HTTP status codes that can trigger a retry at all, in words (e.g. `503`, `500-599`). */
  statusCodesRetried: string[];
  /** `previous_priorities` with `update_frequency` = numAttemptsPerPriority, present only when it is > 0 (§1). */
  previousPriorities: { updateFrequency: number } | undefined;
  /** The trigger that retries an idle or per-try timeout, if any. */
  timeoutTrigger: string | undefined;
  perTryTimeoutMs: number | undefined;
  /** perRetry.timeout ≥ the route timeout: Envoy drops it (§2 `finalTimeout`). */
  perTryTimeoutDropped: boolean;
  backOffBaseMs: number | undefined;
  backOffMaxMs: number | undefined;
  /** Fields that did not parse, with the problem (reported, then treated as unset). */
  unreadable: string[];
}

export type AttemptEnd =
  | { kind: 'idle-timeout'; ms: number }
  | { kind: 'per-try-timeout'; ms: number }
  | { kind: 'route-timeout'; atMs: number }
  | { kind: 'no-timer' };

export interface Attempt {
  number: number;
  priority: number;
  backends: string[];
  startMs: number;
  end: AttemptEnd;
  /** What happens next: retried (with the trigger), or the reason the chain stops there. */
  next: { retried: true; trigger: string; backOffMs: number } | { retried: false; why: string };
}

export interface RuleFallover {
  index: number;
  name: string | undefined;
  /** `spec.rules[0] ("chat")` */
  label: string;
  levels: PriorityLevel[];
  streamIdleMs: number | undefined;
  routeTimeout: { ms: number; source: TimeoutSource; reason: string };
  /** Every BTP that targets this rule, the route or its Gateways, most specific first. */
  attached: AttachedBtp[];
  /** The more specific BTP whose whole-block override decides the rule's traffic settings, if any. */
  winner: AttachedBtp | undefined;
  /** Retries that exist in attached BTPs but are dropped by a more specific BTP (§4). */
  droppedRetries: Array<{ dropped: AttachedBtp; by: AttachedBtp; why: string }>;
  /** Policies at the same level that conflict: Envoy Gateway attaches one and marks the others Conflicted (§4). */
  conflicts: AttachedBtp[][];
  retry: EffectiveRetry | undefined;
  /** Worst case: every model stays silent. Empty when the rule's durations do not parse. */
  attempts: Attempt[];
  /** True when the plan reaches the second priority level before the route timeout. */
  reachesNextPriority: boolean;
  notes: string[];
}

export interface RouteFallover {
  namespace: string;
  name: string;
  rules: RuleFallover[];
}

interface Candidate {
  obj: KubeObject;
  att: AttachedBtp;
  retry: RetrySpec | undefined;
}

interface ParentGateway {
  namespace: string;
  name: string;
  sectionName?: string;
}

function parentGateways(route: AIGatewayRoute, namespace: string): ParentGateway[] {
  const refs = Array.isArray(route.spec?.parentRefs) ? route.spec.parentRefs : [];
  const out: ParentGateway[] = [];
  for (const raw of refs) {
    if (!raw || typeof raw !== 'object') continue;
    const r = raw as Record<string, unknown>;
    if (typeof r.name !== 'string') continue;
    if (r.kind !== undefined && r.kind !== 'Gateway') continue;
    out.push({
      namespace: typeof r.namespace === 'string' && r.namespace ? r.namespace : namespace,
      name: r.name,
      sectionName: typeof r.sectionName === 'string' ? r.sectionName : undefined,
    });
  }
  return out;
}

/** BTPs are namespace-local: a targetRef names an object in the BTP's own namespace. */
function candidatesFor(route: AIGatewayRoute, rule: AIGatewayRouteRule, btps: KubeObject[]): Candidate[] {
  const ns = route.metadata?.namespace ?? '';
  const name = route.metadata?.name ?? '';
  const gateways = parentGateways(route, ns);
  const ruleLevel: Candidate[] = [];
  const routeLevel: Candidate[] = [];
  const listenerLevel: Candidate[] = [];
  const gatewayLevel: Candidate[] = [];
  for (const obj of [...btps].sort(byAge)) {
    const ref = btpRef(obj);
    const base = { ...ref, mergeType: btpMergeType(obj), hasRetry: btpRetry(obj) !== undefined };
    for (const t of btpTargets(obj)) {
      if (isHTTPRouteTarget(t) && ref.namespace === ns && t.name === name) {
        if (t.sectionName === undefined) routeLevel.push({ obj, retry: btpRetry(obj), att: { ...base, level: 'route', target: `HTTPRoute ${ns}/${name}` } });
        else if (typeof rule.name === 'string' && t.sectionName === rule.name) {
          ruleLevel.push({ obj, retry: btpRetry(obj), att: { ...base, level: 'rule', target: `HTTPRoute ${ns}/${name} rule "${t.sectionName}"` } });
        }
        continue;
      }
      if (!isGatewayTarget(t)) continue;
      const gw = gateways.find((g) => g.namespace === ref.namespace && g.name === t.name);
      if (!gw) continue;
      if (t.sectionName === undefined) gatewayLevel.push({ obj, retry: btpRetry(obj), att: { ...base, level: 'gateway', target: `Gateway ${gw.namespace}/${gw.name}` } });
      else if (gw.sectionName === undefined || gw.sectionName === t.sectionName) {
        listenerLevel.push({ obj, retry: btpRetry(obj), att: { ...base, level: 'gateway', target: `Gateway ${gw.namespace}/${gw.name} listener "${t.sectionName}"` } });
      }
    }
  }
  // A listener policy is more specific than a Gateway policy (§4: a route mergeType merges with the listener policy if one exists).
  return [...ruleLevel, ...routeLevel, ...listenerLevel, ...gatewayLevel];
}

function levelsOf(rule: AIGatewayRouteRule): PriorityLevel[] {
  const byPriority = new Map<number, string[]>();
  for (const ref of ruleBackendRefs(rule)) {
    const p = backendPriority(ref);
    const list = byPriority.get(p) ?? [];
    list.push(typeof ref.name === 'string' ? ref.name : '?');
    byPriority.set(p, list);
  }
  return [...byPriority.entries()].sort((a, b) => a[0] - b[0]).map(([priority, backends]) => ({ priority, backends }));
}

function readMs(value: unknown, field: string, unreadable: string[]): number | undefined {
  if (value === undefined || value === null) return undefined;
  const parsed = parseDuration(value);
  if (parsed.ok) return parsed.ms;
  unreadable.push(`${field}: ${parsed.error}`);
  return undefined;
}

function describeCodes(retryOn: string[], codes: number[]): string[] {
  const out: string[] = [];
  if (retryOn.includes('5xx')) out.push('500-599');
  else if (retryOn.includes('gateway-error')) out.push('502', '503', '504');
  if (retryOn.includes('retriable-4xx')) out.push('409');
  if (retryOn.includes('retriable-status-codes')) for (const c of codes) out.push(String(c));
  return [...new Set(out)];
}

/** EG's `buildRetry` / `buildRetryPolicy` (§1): user fields overwrite the defaults, with the edge cases listed there. */
export function effectiveRetry(spec: RetrySpec, from: AttachedBtp[], routeTimeoutMs: number): EffectiveRetry {
  const unreadable: string[] = [];
  const numRetries = typeof spec.numRetries === 'number' ? spec.numRetries : EG_DEFAULT_NUM_RETRIES;
  const napp = typeof spec.numAttemptsPerPriority === 'number' ? spec.numAttemptsPerPriority : undefined;
  const ro = spec.retryOn && typeof spec.retryOn === 'object' ? spec.retryOn : undefined;
  const triggers = Array.isArray(ro?.triggers) && ro.triggers.length > 0 ? ro.triggers.filter((t) => typeof t === 'string') : undefined;
  const codesGiven = Array.isArray(ro?.httpStatusCodes) && ro.httpStatusCodes.length > 0 ? ro.httpStatusCodes.filter((c) => typeof c === 'number') : undefined;
  let retryOn: string[];
  let statusCodes: number[];
  let retryOnDefaulted = false;
  if (triggers === undefined && codesGiven === undefined) {
    // `retryOn` omitted or `{}`: treated as unset.
    retryOn = [...EG_DEFAULT_TRIGGERS];
    statusCodes = [...EG_DEFAULT_STATUS_CODES];
    retryOnDefaulted = true;
  } else if (triggers === undefined) {
    // Codes without triggers: the default retry_on (which holds retriable-status-codes) with the user's codes.
    retryOn = [...EG_DEFAULT_TRIGGERS];
    statusCodes = codesGiven!;
    retryOnDefaulted = true;
  } else {
    // Triggers set: the code list is exactly what was given, empty when omitted (the default 503 is dropped).
    retryOn = triggers;
    statusCodes = codesGiven ?? [];
  }
  const perTryTimeoutMs = readMs(spec.perRetry?.timeout, 'perRetry.timeout', unreadable);
  const backOffBaseMs = readMs(spec.perRetry?.backOff?.baseInterval, 'perRetry.backOff.baseInterval', unreadable);
  const backOffMaxMs = readMs(spec.perRetry?.backOff?.maxInterval, 'perRetry.backOff.maxInterval', unreadable);
  return {
    from,
    numRetries,
    numAttemptsPerPriority: napp,
    retryOn,
    retryOnDefaulted,
    statusCodes,
    statusCodesRetried: describeCodes(retryOn, statusCodes),
    previousPriorities: napp !== undefined && napp > 0 ? { updateFrequency: napp } : undefined,
    timeoutTrigger: TIMEOUT_RETRY_TRIGGERS.find((t) => retryOn.includes(t)),
    perTryTimeoutMs: perTryTimeoutMs !== undefined && perTryTimeoutMs > 0 ? perTryTimeoutMs : undefined,
    perTryTimeoutDropped: perTryTimeoutMs !== undefined && perTryTimeoutMs > 0 && routeTimeoutMs > 0 && perTryTimeoutMs >= routeTimeoutMs,
    backOffBaseMs,
    backOffMaxMs,
    unreadable,
  };
}

/**
 * Precedence (§4): the most specific policy (rule > route > listener > Gateway) is used whole; only a route- or
 * rule-level policy with `mergeType` is merged, and only with the listener or Gateway policy, never rule with route.
 */
function resolve(candidates: Candidate[]): {
  winner: Candidate | undefined;
  retry: { spec: RetrySpec; from: AttachedBtp[] } | undefined;
  dropped: RuleFallover['droppedRetries'];
  conflicts: AttachedBtp[][];
} {
  const byLevel = (pred: (c: Candidate) => boolean) => candidates.filter(pred);
  const rule = byLevel((c) => c.att.level === 'rule');
  const route = byLevel((c) => c.att.level === 'route');
  const gw = byLevel((c) => c.att.level === 'gateway');
  const conflicts = [rule, route].filter((l) => l.length > 1).map((l) => l.map((c) => c.att));
  const specific = rule[0] ?? route[0];
  const gateway = gw[0];
  const dropped: RuleFallover['droppedRetries'] = [];
  if (!specific) {
    return { winner: gateway, retry: gateway?.retry ? { spec: gateway.retry, from: [gateway.att] } : undefined, dropped, conflicts };
  }
  if (specific.att.level === 'rule' && route[0]?.retry && !specific.retry) {
    dropped.push({ dropped: route[0].att, by: specific.att, why: 'replaces the route-level policy whole (rule-level and route-level policies never merge, mergeType or not)' });
  }
  if (!specific.att.mergeType || !gateway) {
    if (gateway?.retry && !specific.retry) dropped.push({ dropped: gateway.att, by: specific.att, why: 'no mergeType, so Envoy Gateway uses it whole instead of the Gateway-level policy' });
    return { winner: specific, retry: specific.retry ? { spec: specific.retry, from: [specific.att] } : undefined, dropped, conflicts };
  }
  if (!gateway.retry && !specific.retry) return { winner: specific, retry: undefined, dropped, conflicts };
  const merged = jsonMerge(gateway.retry ?? {}, specific.retry ?? {}) as RetrySpec;
  const from = [gateway.retry ? gateway.att : undefined, specific.retry ? specific.att : undefined].filter((a): a is AttachedBtp => a !== undefined);
  return { winner: specific, retry: { spec: merged, from }, dropped, conflicts };
}

/**
 * The worst case a person wants to see: every model stays silent, so each attempt ends at its first timer. Retries
 * follow `previous_priorities` (§1): attempts 1..N on the first level, then the tried levels are excluded in turn
 * until none is left and the list resets.
 */
function timeline(levels: PriorityLevel[], idleMs: number | undefined, routeMs: number, retry: EffectiveRetry | undefined): Attempt[] {
  if (levels.length === 0) return [];
  const attempts: Attempt[] = [];
  const retryState = retry !== undefined && retry.retryOn.length > 0;
  const maxAttempts = retryState ? 1 + Math.max(0, retry.numRetries) : 1;
  const perTry = retry?.perTryTimeoutDropped ? undefined : retry?.perTryTimeoutMs;
  let t = 0;
  for (let n = 1; n <= maxAttempts; n++) {
    const level = retry?.previousPriorities ? levels[Math.floor((n - 1) / retry.previousPriorities.updateFrequency) % levels.length]! : levels[0]!;
    const timers: AttemptEnd[] = [];
    if (idleMs !== undefined && idleMs > 0) timers.push({ kind: 'idle-timeout', ms: idleMs });
    if (perTry !== undefined) timers.push({ kind: 'per-try-timeout', ms: perTry });
    timers.sort((a, b) => (a as { ms: number }).ms - (b as { ms: number }).ms);
    let end: AttemptEnd = timers[0] ?? { kind: 'no-timer' };
    const attempt: Attempt = { number: n, priority: level.priority, backends: level.backends, startMs: t, end, next: { retried: false, why: '' } };
    attempts.push(attempt);
    const endsAt = end.kind === 'no-timer' ? Infinity : t + (end as { ms: number }).ms;
    if (routeMs > 0 && endsAt >= routeMs) {
      attempt.end = end = { kind: 'route-timeout', atMs: routeMs };
      attempt.next = { retried: false, why: 'the route timeout is never retried: 504' };
      break;
    }
    if (end.kind === 'no-timer') {
      attempt.next = { retried: false, why: 'no timer ends a silent attempt and the route timeout is disabled (0s)' };
      break;
    }
    if (!retry) {
      attempt.next = { retried: false, why: 'no retry policy applies: the request is aborted with a 504' };
      break;
    }
    if (!retry.timeoutTrigger) {
      attempt.next = { retried: false, why: `retry_on has none of ${TIMEOUT_RETRY_TRIGGERS.join(', ')}, so a timeout is not retried: 504` };
      break;
    }
    if (n === maxAttempts) {
      attempt.next = { retried: false, why: `numRetries ${retry.numRetries} used up: 504` };
      break;
    }
    const backOffMs = retry.backOffBaseMs ?? 0;
    attempt.next = { retried: true, trigger: retry.timeoutTrigger, backOffMs };
    t = endsAt + backOffMs;
    if (routeMs > 0 && t >= routeMs) {
      attempt.next = { retried: false, why: 'the back-off runs into the route timeout, which is never retried: 504' };
      break;
    }
  }
  return attempts;
}

export function ruleFallover(route: AIGatewayRoute, rule: AIGatewayRouteRule, index: number, btps: KubeObject[]): RuleFallover {
  const levels = levelsOf(rule);
  const candidates = candidatesFor(route, rule, btps);
  const { winner, retry, dropped, conflicts } = resolve(candidates);
  const notes: string[] = [];
  const t = readRuleTimeouts(rule);
  const bound = t.ok ? attemptBound(t.value) : undefined;
  if (!t.ok) notes.push(`${t.field} does not parse (${t.error}); no timeline`);
  const routeTimeout = bound ? { ms: bound.ms, source: bound.source, reason: bound.reason } : { ms: 0, source: 'implied' as const, reason: 'unknown' };
  const eff = retry ? effectiveRetry(retry.spec, retry.from, routeTimeout.ms) : undefined;
  for (const u of eff?.unreadable ?? []) notes.push(`retry ${u}; treated as unset`);
  for (const c of candidates) {
    const rt = btpRequestTimeout(c.obj);
    if (rt !== undefined) notes.push(`BackendTrafficPolicy ${c.att.namespace}/${c.att.name} sets timeout.http.requestTimeout ${rt}, which Envoy Gateway ignores here: the HTTPRoute's own timeout wins`);
  }
  const streamIdleMs = t.ok ? t.value.streamIdle : undefined;
  if (streamIdleMs !== undefined && streamIdleMs > 0) {
    notes.push('a model that sends response headers and then stalls is cut mid-stream when the idle timer fires: never retried, never failed over');
  }
  const attempts = bound ? timeline(levels, streamIdleMs, routeTimeout.ms, eff) : [];
  const first = levels[0]?.priority;
  return {
    index,
    name: typeof rule.name === 'string' && rule.name ? rule.name : undefined,
    label: describeRule(rule, index),
    levels,
    streamIdleMs,
    routeTimeout,
    attached: candidates.map((c) => c.att),
    winner: winner?.att,
    droppedRetries: dropped,
    conflicts,
    retry: eff,
    attempts,
    reachesNextPriority: levels.length > 1 && attempts.some((a) => a.priority !== first),
    notes,
  };
}

/** The fall-over model of every rule of a route against the given BTPs (any namespace; non-matching ones are ignored). */
export function routeFallover(route: KubeObject, btps: KubeObject[]): RouteFallover {
  const r = route as AIGatewayRoute;
  return {
    namespace: r.metadata?.namespace ?? '',
    name: r.metadata?.name ?? '',
    rules: routeRules(r).map((rule, i) => ruleFallover(r, rule, i, btps)),
  };
}
