/**
 * What Envoy will run for each AIGatewayRoute rule when a model fails or stays silent: which BackendTrafficPolicy (BTP)
 * retry applies, its effective `retry_on` after Envoy Gateway's defaults, the priority levels and the attempt timeline.
 * Every rule here follows ../shared/docs/failover-facts.md (EG v1.8.1, AIGW v1.1.0); section numbers refer to it.
 * Pure: the route and the BTPs come in as arguments.
 */
import { backendPriority, describeRule, insertByPriority, routeRules, ruleBackendRefs, type AIGatewayRoute, type AIGatewayRouteRule } from './aigatewayroute.js';
import { formatDuration, parseDuration } from './duration.js';
import { attemptBound, readRuleTimeouts, type TimeoutSource } from './timeouts.js';
import { parentGateways } from './parent-refs.js';
import { backendSplit, repeatsProvider, type RuleProviders } from './providers.js';
import {
  btpLoadBalancer,
  btpMergeType,
  btpRef,
  btpRequestTimeout,
  btpRetry,
  btpTargets,
  byAge,
  isGatewayTarget,
  isHTTPRouteTarget,
  jsonMerge,
  selectorOfRoute,
  zoneAwareField,
  type BtpRef,
  type RetrySpec,
} from './btp.js';
import type { KubeObject } from '../kube/types.js';

/** EG's `retryDefaultRetryOn` (route.go:31), emitted whenever a BTP has `retry` but no usable `retryOn` (§1). */
export const EG_DEFAULT_TRIGGERS = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'] as const;
export const EG_DEFAULT_STATUS_CODES = [503] as const;
/** `numRetries` default (API default and xDS default, §1). */
export const EG_DEFAULT_NUM_RETRIES = 2;
/** Envoy's retry back-off when none is configured: 25 ms base, max 10 × base (router `RetryStateImpl`). */
export const ENVOY_DEFAULT_BACKOFF_BASE_MS = 25;
export const ENVOY_BACKOFF_MAX_FACTOR = 10;
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
  /** As written (undefined when unset). */
  backOffBaseMs: number | undefined;
  backOffMaxMs: number | undefined;
  /** The back-off Envoy applies: fully jittered, retry k waits a random time below min((2^k − 1) × base, max). */
  backOff: { baseMs: number; maxMs: number; defaulted: boolean };
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
  /** What happens next: retried (with the trigger and the longest jittered back-off), or the reason the chain stops. */
  next: { retried: true; trigger: string; backOffMs: number } | { retried: false; why: string };
  /** One cluster per backend: the attempt goes to the backend picked by weight for the request (every retry too). */
  pickedByWeight?: true;
}

/** Why Envoy Gateway builds one cluster per backend for the rule: then priorities do nothing. */
export type RuleSplit =
  | { kind: 'address-types'; types: string[] }
  | { kind: 'invalid-backends'; refs: string[] }
  | { kind: 'zone-aware'; btp: BtpRef; field: string };

/** Whether a failing request can reach a priority level, and on which attempt. */
export type LevelReach = { priority: number; attempt: number } | { priority: number; attempt: undefined; why: string };

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
  /** Set when Envoy Gateway builds one cluster per backend (then a retry stays on the cluster picked for the request). */
  split: RuleSplit | undefined;
  /** Per level: the first attempt that goes there by the retry arithmetic (numRetries, numAttemptsPerPriority), or why none does. */
  reach: LevelReach[];
  /** The plan in one line: whether a failing or silent request falls over, and why not. */
  verdict: string;
  fallsOver: boolean;
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

const NO_CANDIDATES: readonly Candidate[] = Object.freeze([]);

/** BTPs are namespace-local: a targetRef names an object in the BTP's own namespace. */
function candidatesFor(route: AIGatewayRoute, rule: AIGatewayRouteRule, btps: KubeObject[]): readonly Candidate[] {
  // Most routes have no BackendTrafficPolicy: no arrays, no Gateway refs read.
  if (btps.length === 0) return NO_CANDIDATES;
  const ns = route.metadata?.namespace ?? '';
  const name = route.metadata?.name ?? '';
  const gateways = parentGateways(route as KubeObject);
  const ruleLevel: Candidate[] = [];
  const routeLevel: Candidate[] = [];
  const listenerLevel: Candidate[] = [];
  const gatewayLevel: Candidate[] = [];
  for (const obj of btps) {
    const ref = btpRef(obj);
    const mergeType = btpMergeType(obj);
    const hasRetry = btpRetry(obj) !== undefined;
    // Built whole, not spread from a shared base: this runs per attaching policy per rule.
    const attached = (level: BtpLevel, target: string): AttachedBtp => ({ namespace: ref.namespace, name: ref.name, mergeType, hasRetry, level, target });
    const selector = selectorOfRoute(obj, route as KubeObject);
    // A selector picks the whole generated HTTPRoute (it cannot name a section): a route-level policy.
    if (selector) routeLevel.push({ obj, retry: btpRetry(obj), att: attached('route', `HTTPRoute ${ns}/${name} (by label, ${selector.path})`) });
    for (const t of btpTargets(obj)) {
      if (isHTTPRouteTarget(t) && ref.namespace === ns && t.name === name) {
        if (selector && t.sectionName === undefined) continue;
        if (t.sectionName === undefined) routeLevel.push({ obj, retry: btpRetry(obj), att: attached('route', `HTTPRoute ${ns}/${name}`) });
        else if (typeof rule.name === 'string' && t.sectionName === rule.name) {
          ruleLevel.push({ obj, retry: btpRetry(obj), att: attached('rule', `HTTPRoute ${ns}/${name} rule "${t.sectionName}"`) });
        }
        continue;
      }
      if (!isGatewayTarget(t)) continue;
      const gw = gateways.find((g) => g.namespace === ref.namespace && g.name === t.name);
      if (!gw) continue;
      if (t.sectionName === undefined) gatewayLevel.push({ obj, retry: btpRetry(obj), att: attached('gateway', `Gateway ${gw.namespace}/${gw.name}`) });
      else if (gw.sectionName === undefined || gw.sectionName === t.sectionName) {
        listenerLevel.push({ obj, retry: btpRetry(obj), att: attached('gateway', `Gateway ${gw.namespace}/${gw.name} listener "${t.sectionName}"`) });
      }
    }
  }
  // Oldest first within a level (Envoy Gateway attaches the oldest of conflicting policies); sorting the few that
  // attach, not every BTP given, keeps a review's cost flat in a namespace with many policies.
  const oldestFirst = (a: Candidate, b: Candidate) => byAge(a.obj, b.obj);
  // A listener policy is more specific than a Gateway policy (§4: a route mergeType merges with the listener policy if one exists).
  return [...ruleLevel.sort(oldestFirst), ...routeLevel.sort(oldestFirst), ...listenerLevel.sort(oldestFirst), ...gatewayLevel.sort(oldestFirst)];
}

/** Priority levels of the rule's backendRefs, lowest first; weight-0 refs are dropped by Envoy Gateway, so they make no level. */
export function priorityLevels(rule: AIGatewayRouteRule): PriorityLevel[] {
  const levels: PriorityLevel[] = [];
  for (const ref of ruleBackendRefs(rule)) {
    if (ref.weight === 0) continue;
    const priority = backendPriority(ref);
    const name = typeof ref.name === 'string' ? ref.name : '?';
    const level = levels.find((l) => l.priority === priority);
    if (level) level.backends.push(name);
    else insertByPriority(levels, { priority, backends: [name] });
  }
  return levels;
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
  const baseMs = backOffBaseMs !== undefined && backOffBaseMs > 0 ? backOffBaseMs : ENVOY_DEFAULT_BACKOFF_BASE_MS;
  const maxMs = backOffMaxMs !== undefined && backOffMaxMs > 0 ? backOffMaxMs : baseMs * ENVOY_BACKOFF_MAX_FACTOR;
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
    backOff: { baseMs, maxMs, defaulted: backOffBaseMs === undefined && backOffMaxMs === undefined },
    unreadable,
  };
}

/**
 * Precedence (§4): the most specific policy (rule > route > listener > Gateway) is used whole; only a route- or
 * rule-level policy with `mergeType` is merged, and only with the listener or Gateway policy, never rule with route.
 */
function resolve(candidates: readonly Candidate[]): {
  winner: Candidate | undefined;
  retry: { spec: RetrySpec; from: AttachedBtp[] } | undefined;
  dropped: RuleFallover['droppedRetries'];
  conflicts: AttachedBtp[][];
} {
  if (candidates.length === 0) return { winner: undefined, retry: undefined, dropped: [], conflicts: [] };
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

/** The longest jittered back-off before retry k (1-based): Envoy waits a random time below min((2^k − 1) × base, max). */
export function backOffCeilingMs(r: EffectiveRetry, retryNumber: number): number {
  return Math.min((2 ** retryNumber - 1) * r.backOff.baseMs, r.backOff.maxMs);
}

/**
 * The priority level attempt n (1-based) goes to, from `previous_priorities` (§1): attempts 1..N use the original
 * load (the first level while it counts as healthy); every N attempts the levels tried so far are excluded, until none
 * is left and the exclusions reset. Without the plugin every attempt stays on the first level.
 */
function levelIndexOf(n: number, levelCount: number, retry: EffectiveRetry | undefined): number {
  return retry?.previousPriorities ? Math.floor((n - 1) / retry.previousPriorities.updateFrequency) % levelCount : 0;
}

/**
 * The worst case a person wants to see: every model stays silent, so each attempt ends at its first timer, and each
 * back-off takes its longest jittered value. When the rule is split into one cluster per backend, every attempt goes
 * to the backend picked by weight for the request (Envoy's `doRetry` keeps the route's cluster).
 */
function timeline(levels: PriorityLevel[], idleMs: number | undefined, routeMs: number, retry: EffectiveRetry | undefined, split: boolean): Attempt[] {
  if (levels.length === 0) return [];
  const attempts: Attempt[] = [];
  const retryState = retry !== undefined && retry.retryOn.length > 0;
  const maxAttempts = retryState ? 1 + Math.max(0, retry.numRetries) : 1;
  const perTry = retry?.perTryTimeoutDropped ? undefined : retry?.perTryTimeoutMs;
  // Only a split rule sends attempts to any backend (flatMap is slow in V8, and this runs for every rule of a review).
  const everyBackend: string[] = [];
  if (split) for (const l of levels) for (const b of l.backends) everyBackend.push(b);
  let t = 0;
  for (let n = 1; n <= maxAttempts; n++) {
    const level = levels[split ? 0 : levelIndexOf(n, levels.length, retry)]!;
    // The first timer to fire ends the attempt (the idle timer on a tie).
    const idle = idleMs !== undefined && idleMs > 0;
    let end: AttemptEnd =
      idle && (perTry === undefined || idleMs <= perTry)
        ? { kind: 'idle-timeout', ms: idleMs }
        : perTry !== undefined
          ? { kind: 'per-try-timeout', ms: perTry }
          : NO_TIMER;
    const attempt: Attempt = split
      ? { number: n, priority: level.priority, backends: everyBackend, startMs: t, end, next: { retried: false, why: '' }, pickedByWeight: true }
      : { number: n, priority: level.priority, backends: level.backends, startMs: t, end, next: { retried: false, why: '' } };
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
    const backOffMs = backOffCeilingMs(retry, n);
    attempt.next = { retried: true, trigger: retry.timeoutTrigger, backOffMs };
    t = endsAt + backOffMs;
    if (routeMs > 0 && t >= routeMs) {
      attempt.next = { retried: false, why: 'the back-off runs into the route timeout, which is never retried: 504' };
      break;
    }
  }
  return attempts;
}

/** The route timeout of a rule whose durations do not parse (it gets no timeline). */
const UNKNOWN_BOUND: RuleFallover['routeTimeout'] = Object.freeze({ ms: 0, source: 'implied', reason: 'unknown' });

const NO_TIMER: AttemptEnd = Object.freeze({ kind: 'no-timer' });

/** Which levels the retry arithmetic reaches, whatever the timers (the time budget is fallover-budget's). */
function reachOf(levels: PriorityLevel[], retry: EffectiveRetry | undefined, split: RuleSplit | undefined): LevelReach[] {
  return levels.map((l, k) => {
    if (k === 0) return { priority: l.priority, attempt: 1 };
    if (split) return { priority: l.priority, attempt: undefined, why: 'one cluster per backend: a retry stays on the backend picked for the request' };
    if (!retry || retry.retryOn.length === 0) return { priority: l.priority, attempt: undefined, why: 'no retry applies' };
    if (retry.numRetries <= 0) return { priority: l.priority, attempt: undefined, why: `numRetries ${retry.numRetries}` };
    if (!retry.previousPriorities) {
      return { priority: l.priority, attempt: undefined, why: `numAttemptsPerPriority ${retry.numAttemptsPerPriority ?? 'unset'}: no previous_priorities, retries stay on priority ${levels[0]!.priority}` };
    }
    const u = retry.previousPriorities.updateFrequency;
    const first = k * u + 1;
    if (first <= retry.numRetries + 1) return { priority: l.priority, attempt: first };
    return {
      priority: l.priority,
      attempt: undefined,
      why: `it is first tried on attempt ${first} (${k} × numAttemptsPerPriority ${u} + 1), but numRetries ${retry.numRetries} allows ${retry.numRetries + 1}`,
    };
  });
}

function splitOf(providers: RuleProviders | undefined, zoneAware: { btp: BtpRef; field: string } | undefined): RuleSplit | undefined {
  if (zoneAware) return { kind: 'zone-aware', ...zoneAware };
  return providers ? backendSplit(providers.refs) : undefined;
}

export function splitText(s: RuleSplit): string {
  switch (s.kind) {
    case 'address-types':
      return `its backends mix address types (${s.types.join(' and ')}), so Envoy Gateway builds one cluster per backend and splits traffic by weight`;
    case 'invalid-backends':
      return `backendRef ${s.refs.join(', ')} does not resolve to a usable Backend, so Envoy Gateway builds one cluster per backend and sends its weight share to a cluster that answers 500`;
    case 'zone-aware':
      return `BackendTrafficPolicy ${s.btp.namespace}/${s.btp.name} sets ${s.field} (zone-aware load balancing), so Envoy Gateway builds one cluster per backend and splits traffic by weight`;
  }
}

function verdictOf(m: Omit<RuleFallover, 'verdict' | 'fallsOver'>): { verdict: string; fallsOver: boolean } {
  const idle = m.streamIdleMs !== undefined && m.streamIdleMs > 0;
  if (m.levels.length === 0) return { verdict: 'no backendRefs with weight', fallsOver: false };
  if (m.levels.length < 2) {
    return idle
      ? { verdict: `one priority level: nothing to fall over to (a retry can only reach priority ${m.levels[0]!.priority} again)`, fallsOver: false }
      : { verdict: 'no fall-over configured (one priority level, no streamIdleTimeout)', fallsOver: false };
  }
  if (m.split) return { verdict: `does NOT fall over by priority: ${splitText(m.split)}; a retry stays on the backend picked for the request`, fallsOver: false };
  const r = m.retry;
  const no = (why: string) => ({ verdict: `does NOT fall over: ${why}`, fallsOver: false });
  if (!r) return no(m.winner ? `BackendTrafficPolicy ${m.winner.namespace}/${m.winner.name} applies but has no retry` : 'no BackendTrafficPolicy retry applies');
  if (r.numRetries <= 0) return no(`numRetries ${r.numRetries}: no retries`);
  if (idle && !r.timeoutTrigger) return no(`an idle timeout is never retried: retry_on ${r.retryOn.join(',')} has none of reset, 5xx, gateway-error`);
  if (!r.previousPriorities) return no(`numAttemptsPerPriority ${r.numAttemptsPerPriority ?? 'unset'}: retries stay on priority ${m.levels[0]!.priority} while it counts as healthy`);
  if (r.numRetries < r.previousPriorities.updateFrequency) return no(`numRetries ${r.numRetries} < numAttemptsPerPriority ${r.previousPriorities.updateFrequency}`);
  const at = m.attempts.find((a) => a.priority !== m.levels[0]!.priority);
  if (m.reachesNextPriority && at) {
    const missed = m.reach.filter((x) => x.attempt === undefined).map((x) => x.priority);
    const tail = missed.length ? `; priority ${missed.join(', ')} is never tried (see "reach")` : '';
    return { verdict: `falls over: priority ${at.priority} is tried at ${formatDuration(at.startMs)} (attempt ${at.number}) when priority ${m.levels[0]!.priority} stays silent${tail}`, fallsOver: true };
  }
  if (m.attempts[0]?.end.kind === 'route-timeout' && !idle && (r.perTryTimeoutMs === undefined || r.perTryTimeoutDropped)) {
    return { verdict: `falls over on a failure it retries (see "retried on"), but a silent model holds the request until the route timeout: no streamIdleTimeout`, fallsOver: true };
  }
  const last = m.attempts[m.attempts.length - 1];
  return no(last && !last.next.retried ? last.next.why : 'the attempts never leave the first priority');
}

/**
 * The fall-over model of one rule. `providers` (the rule's backendRefs resolved, when the world holds them) tells
 * whether Envoy Gateway splits the rule into one cluster per backend and whether a level repeats a provider.
 */
export function ruleFallover(route: AIGatewayRoute, rule: AIGatewayRouteRule, index: number, btps: KubeObject[], providers?: RuleProviders): RuleFallover {
  const levels = priorityLevels(rule);
  const candidates = candidatesFor(route, rule, btps);
  const { winner, retry, dropped, conflicts } = resolve(candidates);
  const notes: string[] = [];
  const t = readRuleTimeouts(rule);
  const bound = t.ok ? attemptBound(t.value) : undefined;
  if (!t.ok) notes.push(`${t.field} does not parse (${t.error}); no timeline`);
  const routeTimeout = bound ?? UNKNOWN_BOUND;
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
  const winnerCandidate = winner;
  const gatewayCandidate = candidates.find((c) => c.att.level === 'gateway');
  const lb = winnerCandidate
    ? winnerCandidate.att.mergeType && gatewayCandidate && gatewayCandidate !== winnerCandidate
      ? jsonMerge(btpLoadBalancer(gatewayCandidate.obj) ?? {}, btpLoadBalancer(winnerCandidate.obj) ?? {})
      : btpLoadBalancer(winnerCandidate.obj)
    : undefined;
  const zoneField = zoneAwareField(lb);
  // The policy that set it: the winner's own, else the Gateway policy it merged with.
  const zoneBtp = winnerCandidate && zoneField ? (zoneAwareField(btpLoadBalancer(winnerCandidate.obj)) ? winnerCandidate.att : gatewayCandidate?.att) : undefined;
  const split = splitOf(providers, zoneField && zoneBtp ? { btp: { namespace: zoneBtp.namespace, name: zoneBtp.name }, field: zoneField } : undefined);
  const attempts = bound ? timeline(levels, streamIdleMs, routeTimeout.ms, eff, split !== undefined && levels.length > 0) : [];
  const first = levels[0]?.priority;
  // Built whole with its verdict filled in below, not spread into a copy (spreading objects is slow in V8).
  const model: RuleFallover = {
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
    reachesNextPriority: !split && levels.length > 1 && attempts.some((a) => a.priority !== first),
    split,
    reach: reachOf(levels, eff, split),
    notes,
    verdict: '',
    fallsOver: false,
  };
  const { verdict, fallsOver } = verdictOf(model);
  const repeated = providers?.levels.find((l, k) => k > 0 && repeatsProvider(l, providers.levels[k - 1]!) && attempts.some((a) => !a.pickedByWeight && a.priority === l.priority));
  const prev = repeated ? providers!.levels[providers!.levels.indexOf(repeated) - 1]! : undefined;
  model.verdict = fallsOver && repeated && prev ? `${verdict}, but priority ${repeated.priority} reaches the same provider as priority ${prev.priority}` : verdict;
  model.fallsOver = fallsOver;
  return model;
}

/**
 * The fall-over model of every rule of a route against the given BTPs (any namespace; non-matching ones are ignored),
 * and, when given, the route's backendRefs resolved to providers (src/model/providers.ts `routeProviders`).
 */
export function routeFallover(route: KubeObject, btps: KubeObject[], providers?: RuleProviders[]): RouteFallover {
  const r = route as AIGatewayRoute;
  return {
    namespace: r.metadata?.namespace ?? '',
    name: r.metadata?.name ?? '',
    rules: routeRules(r).map((rule, i) => ruleFallover(r, rule, i, btps, providers?.[i])),
  };
}
