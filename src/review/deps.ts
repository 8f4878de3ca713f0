import type { Endpoint, EventDraft, ResourceRef } from '../kube/types.js';
import type { PolicySet } from './policy-set.js';
import type { World } from '../world/world.js';

/** The subset of pino the core uses, so tests can pass a recorder. */
export interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ReviewMetrics {
  reviewed(labels: { endpoint: Endpoint; kind: string; operation: string; allowed: boolean; dryRun: boolean }, seconds: number): void;
  finding(policy: string, mode: string): void;
  policyError(policy: string): void;
  /** A policy abandoned because the review's deadline passed (it followed its onError). */
  policyAbandoned?(policy: string): void;
  /** A finding of a policy the object is exempted from (reported as `skip`). */
  skipped?(policy: string): void;
  observed(policy: string, event: string, reason: string): void;
}

/** Writes Kubernetes Events; fire-and-forget, never awaited on the review path. */
export interface EventSink {
  emit(regarding: ResourceRef, event: EventDraft): void;
}

export interface ReviewDeps {
  policies: PolicySet;
  world: World;
  now(): Date;
  logger: Logger;
  metrics?: ReviewMetrics;
  events?: EventSink;
  /** A review that looked objects up in a world last synced longer ago than this warns so (default 300). */
  staleAfterSeconds?: number;
  /**
   * The review's time budget in ms (default 2000): a policy still to run when it has passed, or one that finished past
   * it, is abandoned under its onError. Measured with `clock` (ms, default performance.now), which tests replace.
   */
  deadlineMs?: number;
  clock?: () => number;
}

/**
 * A log record may carry its own JSON under this key: a method returning what JSON.stringify writes between the
 * record's braces, each field led by a comma. A JSON logger uses it instead of walking the record; any other logger
 * sees an ordinary object (the method sits on the prototype under a symbol, where for-in and JSON.stringify never look).
 */
export const FIELDS_JSON: unique symbol = Symbol('aigw-admission.fieldsJson');

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };

/** Default review budget (ReviewDeps.deadlineMs; config server.reviewDeadlineMs): well below the webhook's 5 s timeout. */
export const DEFAULT_REVIEW_DEADLINE_MS = 2000;
/** Work a served review does before giving the event loop back. */
export const DEFAULT_SLICE_MS = 20;
