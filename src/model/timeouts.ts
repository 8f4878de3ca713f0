import { parseDuration, formatDuration } from './duration.js';
import type { AIGatewayRouteRule } from './aigatewayroute.js';

/** The controller emits this request timeout when `timeouts.request` is unset; it is never stored on the object. */
export const IMPLIED_REQUEST_TIMEOUT_MS = 60_000;

export type TimeoutSource = 'backendRequest' | 'request' | 'implied';

/**
 * What bounds one attempt in Envoy. Envoy Gateway uses `backendRequest` as the route timeout when set (AI Gateway never
 * sets an HTTPRoute retry), else `request`, else the controller's implied 60 s. `ms === 0` means disabled (`0s`).
 */
export interface AttemptBound {
  ms: number;
  source: TimeoutSource;
  /** Human explanation of why this bound applies. */
  reason: string;
}

export type TimeoutRead = { ok: true; ms: number | undefined } | { ok: false; field: string; error: string };

/** An unset duration (most are), one shared answer. */
const UNSET: TimeoutRead = Object.freeze({ ok: true, ms: undefined });

function readOptional(value: unknown, field: string): TimeoutRead {
  if (value === undefined || value === null) return UNSET;
  const parsed = parseDuration(value);
  return parsed.ok ? { ok: true, ms: parsed.ms } : { ok: false, field, error: parsed.error };
}

export interface RuleTimeouts {
  request: number | undefined;
  backendRequest: number | undefined;
  streamIdle: number | undefined;
}

/** All three durations of a rule, or the first field that does not parse. */
export function readRuleTimeouts(rule: AIGatewayRouteRule):
  | { ok: true; value: RuleTimeouts }
  | { ok: false; field: string; error: string } {
  const timeouts = rule.timeouts && typeof rule.timeouts === 'object' ? rule.timeouts : {};
  const request = readOptional(timeouts.request, 'timeouts.request');
  if (!request.ok) return request;
  const backendRequest = readOptional(timeouts.backendRequest, 'timeouts.backendRequest');
  if (!backendRequest.ok) return backendRequest;
  const streamIdle = readOptional(rule.streamIdleTimeout, 'streamIdleTimeout');
  if (!streamIdle.ok) return streamIdle;
  return { ok: true, value: { request: request.ms, backendRequest: backendRequest.ms, streamIdle: streamIdle.ms } };
}

/** The request timeout Envoy ends up with: `timeouts.request`, or the implied 60 s. */
export function effectiveRequestTimeout(t: RuleTimeouts): number {
  return t.request ?? IMPLIED_REQUEST_TIMEOUT_MS;
}

export function attemptBound(t: RuleTimeouts): AttemptBound {
  if (t.backendRequest !== undefined) {
    return {
      ms: t.backendRequest,
      source: 'backendRequest',
      reason: `timeouts.backendRequest ${formatDuration(t.backendRequest)}, which Envoy Gateway programs as the route timeout when set`,
    };
  }
  if (t.request !== undefined) {
    return { ms: t.request, source: 'request', reason: `timeouts.request ${formatDuration(t.request)}; no timeouts.backendRequest` };
  }
  return IMPLIED_BOUND;
}

/** The bound of a rule that sets neither timeout (most), its text made once. */
const IMPLIED_BOUND: AttemptBound = Object.freeze({
  ms: IMPLIED_REQUEST_TIMEOUT_MS,
  source: 'implied',
  reason: `timeouts.request unset: the controller's implied ${formatDuration(IMPLIED_REQUEST_TIMEOUT_MS)}; no timeouts.backendRequest`,
});
