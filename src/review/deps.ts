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
}

export const silentLogger: Logger = { debug() {}, info() {}, warn() {}, error() {} };
