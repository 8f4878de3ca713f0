import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { ALL_POLICIES } from '../policies/index.js';
import { PolicySet } from '../src/review/policy-set.js';
import { MemoryWorld } from '../src/world/world.js';
import { silentLogger, type ReviewDeps } from '../src/review/deps.js';
import type { AdmissionReviewRequest, KubeObject, Operation } from '../src/kube/types.js';
import { reviewFor } from '../src/kube/request.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
/** Upstream fixtures beside the project (always present in CI; absent in a user's fresh clone). */
export const SHARED = resolve(ROOT, '..', 'shared');
export const HAS_SHARED = existsSync(join(SHARED, 'fixtures'));

export function deps(overrides: Partial<ReviewDeps> = {}): ReviewDeps {
  return {
    policies: new PolicySet(ALL_POLICIES),
    world: new MemoryWorld(),
    now: () => new Date('2026-11-23T12:00:00Z'),
    logger: silentLogger,
    ...overrides,
  };
}

export function readJson<T = unknown>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function yamlObjects(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, 'utf8'))
    .map((d) => d.toJS() as KubeObject)
    .filter((o) => o && typeof o === 'object' && typeof o.kind === 'string');
}

export function listFiles(dir: string, ext: string): string[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith(ext))
    .sort()
    .map((f) => join(dir, f));
}

let counter = 0;
/** An AdmissionReview around an object, shaped like the ones kube-apiserver sends. */
export function admissionReview(object: KubeObject | null, operation: Operation = 'CREATE', oldObject: KubeObject | null = null, dryRun = false): AdmissionReviewRequest {
  return reviewFor(object, operation, { uid: `00000000-0000-4000-8000-${String(++counter).padStart(12, '0')}`, oldObject, dryRun });
}

export function route(rules: unknown[], name = 'chat', namespace = 'team-a'): KubeObject {
  return {
    apiVersion: 'aigateway.envoyproxy.io/v1beta1',
    kind: 'AIGatewayRoute',
    metadata: { name, namespace },
    spec: { parentRefs: [{ name: 'ai-gateway', kind: 'Gateway', group: 'gateway.networking.k8s.io' }], rules },
  };
}

export const modelMatch = (model: string) => [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: model }] }];

/** A retry that falls over on an idle timeout (the shape of upstream's stream_idle_timeout example). */
export const WORKING_RETRY = {
  numRetries: 2,
  numAttemptsPerPriority: 1,
  perRetry: { backOff: { baseInterval: '100ms', maxInterval: '1s' } },
  retryOn: { triggers: ['reset', 'connect-failure', 'retriable-status-codes'], httpStatusCodes: [502, 503, 504] },
};

/** A BackendTrafficPolicy attached to the HTTPRoute an AIGatewayRoute generates (same namespace and name). */
export function retryPolicy(
  opts: { route?: string; namespace?: string; name?: string; sectionName?: string; retry?: unknown; spec?: Record<string, unknown>; created?: string } = {},
): KubeObject {
  const route = opts.route ?? 'chat';
  const target: Record<string, unknown> = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: route };
  if (opts.sectionName) target.sectionName = opts.sectionName;
  const spec: Record<string, unknown> = { targetRefs: [target], ...(opts.spec ?? {}) };
  if (opts.retry !== null) spec.retry = opts.retry ?? WORKING_RETRY;
  return {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'BackendTrafficPolicy',
    metadata: { name: opts.name ?? `${route}-retry`, namespace: opts.namespace ?? 'team-a', ...(opts.created ? { creationTimestamp: opts.created } : {}) },
    spec,
  };
}

/** The world of most route tests: team-a/chat has a working fall-over retry, so only the policy under test speaks. */
export const fallingOverWorld = (): MemoryWorld => new MemoryWorld([retryPolicy()]);

/**
 * The warnings of a verdict in full, as the log and `check` keep them (`[policy] path: message`, then the notices); the
 * answer itself carries them bounded (src/review/bounded-answer.ts, asserted in test/unit/bounded-answer.test.ts).
 */
export function warningsInFull(verdict: { findings: Array<{ policy: string; mode: string; path: string; message: string }>; notices: string[] }): string[] {
  return [...verdict.findings.filter((f) => f.mode === 'warn').map((f) => (f.path ? `[${f.policy}] ${f.path}: ${f.message}` : `[${f.policy}] ${f.message}`)), ...verdict.notices];
}
