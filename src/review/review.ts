import { performance } from 'node:perf_hooks';
import { PatchBuilder, ReadOnlyPatch } from './patch.js';
import { boundedDenial, boundedWarnings } from './bounded-answer.js';
import { NO_FINDINGS, type AnyPolicy, type PolicyContext } from './policy.js';
import { DEFAULT_REVIEW_DEADLINE_MS, DEFAULT_SLICE_MS } from './deps.js';
import type { ReviewDeps } from './deps.js';
import type { ActivePolicy } from './policy-set.js';
import type { World } from '../world/world.js';
import { cacheNotice } from '../world/staleness.js';
import { overSchemaLimits } from '../model/schema-limits.js';
import { annotationProblems, EXEMPTION_POLICY } from './exemptions.js';
import { ReviewLine } from './review-line.js';
import type {
  AdmissionRequest,
  AdmissionReviewRequest,
  AdmissionReviewResponse,
  Endpoint,
  EventDraft,
  Finding,
  JsonPatchOperation,
  Observation,
  KubeObject,
  Mode,
  Operation,
  ResourceRef,
} from '../kube/types.js';

export interface Verdict {
  allowed: boolean;
  findings: Finding[];
  patch: JsonPatchOperation[];
  events: EventDraft[];
  /** Ids of the policies that reported a finding or wrote a patch. */
  fired: string[];
  /** Warnings about the review itself rather than the object (a stale cluster cache), after the findings. */
  notices: string[];
  /** What the policies observed (also logged and counted), for callers that report it themselves (`inject`). */
  observations: Array<Observation & { policy: string }>;
}

/** The review's default clock: monotonic, in ms (bound once, not per review). */
const monotonicMs = (): number => performance.now();

/** The world as policies see it, counting the lookups so the review knows whether its state mattered (one object, not a closure per method, per review). */
class CountingWorld implements World {
  lookups = 0;

  constructor(private readonly world: World) {}

  get(groupKind: string, namespace: string, name: string): KubeObject | undefined {
    this.lookups++;
    return this.world.get(groupKind, namespace, name);
  }

  list(groupKind: string, namespace?: string): KubeObject[] {
    this.lookups++;
    return this.world.list(groupKind, namespace);
  }

  covers(groupKind: string): boolean {
    this.lookups++;
    return this.world.covers(groupKind);
  }

  kubernetesMinor(): number | undefined {
    return this.world.kubernetesMinor();
  }

  syncedAt(): Date | undefined {
    return this.world.syncedAt();
  }

  ready(): boolean {
    return this.world.ready();
  }
}

export function resourceOf(request: AdmissionRequest): ResourceRef {
  const obj: KubeObject | null = request.object ?? request.oldObject;
  const gv = request.kind.group ? `${request.kind.group}/${request.kind.version}` : request.kind.version;
  return {
    apiVersion: typeof obj?.apiVersion === 'string' ? obj.apiVersion : gv,
    kind: request.kind.kind,
    namespace: request.namespace ?? obj?.metadata?.namespace ?? '',
    name: request.name || obj?.metadata?.name || obj?.metadata?.generateName || '',
  };
}

/** Runs the policies that match the request; pure apart from the logger and metrics in `deps`. */
export function evaluate(request: AdmissionRequest, endpoint: Endpoint, deps: ReviewDeps, resource: ResourceRef = resourceOf(request)): Verdict {
  const run = policyRun(request, endpoint, deps, resource);
  for (let i = 0; i < run.count; i++) run.step(i);
  return run.finish();
}

/**
 * `evaluate`, giving the event loop back between policies once `sliceMs` of work has run, so no review holds it for
 * longer than a slice plus one policy (the server's path; the CLI runs `evaluate`). A review that finishes within its
 * first slice (nearly all) answers at once, with no promise: a promise and its microtask per review were a measurable
 * part of a small review's cost.
 */
export function evaluateSliced(
  request: AdmissionRequest,
  endpoint: Endpoint,
  deps: ReviewDeps,
  resource: ResourceRef = resourceOf(request),
  sliceMs = DEFAULT_SLICE_MS,
): Verdict | Promise<Verdict> {
  const run = policyRun(request, endpoint, deps, resource);
  const next = runSlice(run, 0, sliceMs);
  return next === undefined ? run.finish() : runInSlices(run, next, sliceMs);
}

/** The rest of a sliced review, from policy `next` on, each slice after a turn of the event loop. */
async function runInSlices(run: PolicyRun, next: number, sliceMs: number): Promise<Verdict> {
  for (let from: number | undefined = next; from !== undefined; from = runSlice(run, from, sliceMs)) {
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
  return run.finish();
}

/** Runs policies from `from` on until one ends the slice: the index to go on from, or undefined when all have run. */
function runSlice(run: PolicyRun, from: number, sliceMs: number): number | undefined {
  run.startSlice(sliceMs);
  for (let i = from; i < run.count; i++) {
    if (run.step(i)) return i + 1;
  }
  return undefined;
}

interface PolicyRun {
  readonly count: number;
  /** The slice from now on lasts `sliceMs`; until the first, the run is one slice without end (`evaluate`). */
  startSlice(sliceMs: number): void;
  /**
   * Runs policy `index`; true when the clock, as read after it, says the slice is over (so the sliced runner needs no
   * reading of its own). The slice's end is kept by the run, and a boolean comes back: a double passed or returned per
   * policy was boxed each time.
   */
  step(index: number): boolean;
  finish(): Verdict;
}

/**
 * The policies that match a review, as a PolicyRun; a review no policy judges gets the verdict as it is (no
 * annotation problems, no cache notice: nothing was looked at).
 */
function policyRun(request: AdmissionRequest, endpoint: Endpoint, deps: ReviewDeps, resource: ResourceRef): PolicyRun {
  const { group, kind } = request.kind;
  const matching = deps.policies.matching(endpoint, group, kind, request.operation);
  const verdict: Verdict = { allowed: true, findings: [], patch: [], events: [], fired: [], notices: [], observations: [] };
  if (matching.length === 0) return new NoPolicyRun(verdict);
  // An object being deleted only gets finalizers removed: judging it could leave the deletion hanging forever.
  if (request.operation === 'UPDATE' && request.object?.metadata?.deletionTimestamp) return new NoPolicyRun(verdict);
  // Mutating webhooks run before schema validation: an object the CRD refuses gets no patch (it would only cost memory).
  const over = endpoint === 'mutate' ? overSchemaLimits(group, kind, request.object) : undefined;
  if (over) {
    verdict.notices.push(`not mutated: ${over}, so the API server refuses this object whatever the webhook writes`);
    return new NoPolicyRun(verdict);
  }
  return new MatchingPolicyRun(request, endpoint, deps, resource, matching, verdict);
}

/** A review no policy judges: nothing to step through, the verdict as it is. */
class NoPolicyRun implements PolicyRun {
  readonly count = 0;
  constructor(private readonly verdict: Verdict) {}
  startSlice(): void {}
  step(): boolean {
    return false;
  }
  finish(): Verdict {
    return this.verdict;
  }
}

/**
 * The context every policy of one review gets. `now` is read from the clock on first use: one policy of nineteen
 * reads it, and a Date per review was measurable on the served path.
 */
class ReviewContext implements PolicyContext<unknown> {
  readonly operation: Operation;
  readonly object: KubeObject | null;
  readonly oldObject: KubeObject | null;
  readonly dryRun: boolean;
  params: unknown = undefined;
  mode: Mode = 'audit';
  prepared: unknown = undefined;
  private time: Date | undefined;

  constructor(
    readonly request: AdmissionRequest,
    readonly world: World,
    public patch: PatchBuilder,
    readonly memo: NonNullable<PolicyContext<unknown>['memo']>,
    // The deps themselves, so `now` is called as their method, as before.
    private readonly clock: Pick<ReviewDeps, 'now'>,
  ) {
    this.operation = request.operation;
    this.object = request.object ?? null;
    this.oldObject = request.oldObject ?? null;
    this.dryRun = request.dryRun === true;
  }

  get now(): Date {
    return (this.time ??= this.clock.now());
  }
}

/** Per scope the last key and value first (nearly every lookup is for the reviewed object), then a map of the others. */
interface MemoScope {
  key: object;
  value: unknown;
  others?: Map<object, unknown>;
}

/**
 * The policies of one review, run one at a time by index, and the verdict at the end. A plain loop over `step`, not a generator:
 * resuming a generator per policy was a fifth of a small review's cost. One object with fields, not a closure per
 * method: the closures and the boxed clock readings they shared were a tenth of what a small review allocated.
 */
class MatchingPolicyRun implements PolicyRun {
  readonly count: number;
  private readonly clock: () => number;
  private readonly deadlineMs: number;
  private readonly started: number;
  private elapsed = 0;
  private sliceEndsAt = Number.POSITIVE_INFINITY;
  private readonly created: Set<string>;
  private readonly seen: CountingWorld;
  private readonly memos = new Map<string, MemoScope>();
  private readonly subject: KubeObject | null;
  private readonly exempt: ((policy: string) => string | undefined) | undefined;
  private readonly readOnly: ReadOnlyPatch;
  private readonly ctx: ReviewContext;

  constructor(
    private readonly request: AdmissionRequest,
    private readonly endpoint: Endpoint,
    private readonly deps: ReviewDeps,
    private readonly resource: ResourceRef,
    private readonly matching: readonly ActivePolicy[],
    private readonly verdict: Verdict,
  ) {
    this.count = matching.length;
    this.clock = deps.clock ?? monotonicMs;
    this.deadlineMs = deps.deadlineMs ?? DEFAULT_REVIEW_DEADLINE_MS;
    this.started = this.clock();
    // Only mutating policies create parents; a /validate review shares one set its read-only patch never writes to.
    this.created = endpoint === 'mutate' ? new Set<string>() : NOTHING_CREATED;
    this.seen = new CountingWorld(deps.world);
    this.subject = request.object ?? request.oldObject;
    this.exempt = deps.policies.exemptions(this.subject, resource.namespace);
    this.readOnly = new ReadOnlyPatch(request.object, this.created);
    // One context for the review, its per-policy fields set before each call: policies run one at a time and keep
    // nothing of it, and an object of twelve fields per policy was a tenth of a small review's cost.
    this.ctx = new ReviewContext(request, this.seen, this.readOnly, this.memo, deps);
  }

  /** The review's memo (PolicyContext.memo); bound, as policies take it out of the context. */
  private readonly memo = <K extends object, T>(scope: string, key: K, compute: (key: K, ctx: PolicyContext<unknown>) => T): T => {
    const cache = this.memos.get(scope);
    if (cache === undefined) {
      const value = compute(key, this.ctx);
      this.memos.set(scope, { key, value });
      return value;
    }
    if (cache.key === key) return cache.value as T;
    cache.others ??= new Map();
    if (cache.others.has(key)) return cache.others.get(key) as T;
    const value = compute(key, this.ctx);
    cache.others.set(key, value);
    return value;
  };

  startSlice(sliceMs: number): void {
    this.sliceEndsAt = this.clock() + sliceMs;
  }

  step(index: number): boolean {
    const { policy, mode, params, prepared } = this.matching[index]!;
    const { request, verdict, deps, resource } = this;
    // An exempted policy still runs, so what it would have said is reported (as `skip`), but it never denies or patches.
    const exemption = this.exempt?.(policy.id);
    if (this.elapsed >= this.deadlineMs) {
      if (!exemption) this.abandon(policy, mode, false);
      return this.started + this.elapsed >= this.sliceEndsAt;
    }
    const patch = policy.endpoint === 'mutate' ? new PatchBuilder(request.object, this.created) : this.readOnly;
    const ctx = this.ctx;
    ctx.params = params;
    ctx.mode = mode;
    ctx.patch = patch;
    ctx.prepared = prepared;
    let result;
    try {
      result = policy.evaluate(ctx);
    } catch (err) {
      this.elapsed = this.clock() - this.started;
      deps.metrics?.policyError(policy.id);
      deps.logger.error(
        { event: 'policy_error', uid: request.uid, policy: policy.id, err: { message: (err as Error)?.message, stack: (err as Error)?.stack } },
        'policy failed',
      );
      if (mode === 'audit' || exemption) return this.started + this.elapsed >= this.sliceEndsAt;
      this.couldNotRun(
        policy,
        `internal error in policy ${policy.id}; the request is refused because this policy fails closed (onError: deny). The webhook log has the error under uid ${request.uid}; to admit meanwhile, set policies.${policy.id}.mode to warn or audit in the config`,
        `internal error in policy ${policy.id}; the request was not checked by it (onError: allow-with-warning). The webhook log has the error under uid ${request.uid}`,
      );
      return this.started + this.elapsed >= this.sliceEndsAt;
    }
    // One clock read per policy: it says both whether this one overran and whether the next may start.
    const elapsed = (this.elapsed = this.clock() - this.started);
    // Indexed loops below: for-of over the shared frozen NO_FINDINGS and the policies' own arrays allocated an
    // iterator and its results per policy.
    const findings = result.findings ?? NO_FINDINGS;
    if (exemption) {
      for (let i = 0; i < findings.length; i++) {
        const f = findings[i]!;
        verdict.findings.push({ policy: policy.id, mode, result: 'skip', exemption, resource, path: f.path, message: f.message });
        deps.metrics?.skipped?.(policy.id);
      }
      return this.started + elapsed >= this.sliceEndsAt;
    }
    // A policy that finished past the deadline is abandoned: its answer came too late to be trusted on time.
    if (elapsed > this.deadlineMs) {
      this.abandon(policy, mode, true);
      return this.started + elapsed >= this.sliceEndsAt;
    }
    const observations = result.observations;
    if (observations) {
      for (let i = 0; i < observations.length; i++) {
        const o = observations[i]!;
        deps.metrics?.observed(policy.id, o.event, o.reason);
        // Object.assign, not a spread: `{ ...fields, more }` over fields of many shapes cost V8 microseconds per line.
        deps.logger.info(Object.assign({}, o.fields, { event: o.event, reason: o.reason, uid: request.uid, policy: policy.id, mode }), o.event);
        verdict.observations.push(o.fields === undefined ? { event: o.event, reason: o.reason, policy: policy.id } : { event: o.event, reason: o.reason, fields: o.fields, policy: policy.id });
      }
    }
    const applies = mode !== 'audit';
    if (findings.length > 0 || patch.ops.length > 0) verdict.fired.push(policy.id);
    for (let i = 0; i < findings.length; i++) {
      const f = findings[i]!;
      // A mutating policy's findings describe what it wrote: never a denial.
      const capped = policy.endpoint === 'mutate' && mode === 'deny' ? 'warn' : mode;
      const effective = f.atMost && MODE_SEVERITY[f.atMost] < MODE_SEVERITY[capped] ? f.atMost : capped;
      verdict.findings.push(
        f.note ? { policy: policy.id, mode: effective, resource, path: f.path, message: f.message, note: f.note } : { policy: policy.id, mode: effective, resource, path: f.path, message: f.message },
      );
      deps.metrics?.finding(policy.id, effective);
      if (effective === 'deny') verdict.allowed = false;
    }
    if (applies && patch.ops.length > 0) {
      patch.commit();
      for (const op of patch.ops) verdict.patch.push(op);
    }
    if (applies && result.events) for (const e of result.events) verdict.events.push(e);
    return this.started + elapsed >= this.sliceEndsAt;
  }

  finish(): Verdict {
    const { verdict, endpoint, resource, deps } = this;
    const group = this.request.kind.group;
    // Core kinds (pods) only reach /mutate; every other kind reports an unknown id once, on /validate.
    const problems = annotationProblems(this.subject, () => this.matching.map((m) => m.policy.id), endpoint === 'validate' || group === '' ? deps.policies.ids : undefined);
    for (const p of problems) verdict.findings.push({ policy: EXEMPTION_POLICY, mode: 'warn', resource, path: p.path, message: p.message });
    if (this.seen.lookups > 0) {
      const notice = cacheNotice(deps.world, () => this.ctx.now, deps.staleAfterSeconds);
      if (notice) verdict.notices.push(notice);
    }
    return verdict;
  }

  /** A policy abandoned at the deadline: logged and counted, then it follows its onError unless it only audits. */
  private abandon(policy: AnyPolicy, mode: Mode, overran: boolean): void {
    const { deps, request, deadlineMs } = this;
    deps.metrics?.policyAbandoned?.(policy.id);
    const elapsedMs = Math.round(this.clock() - this.started);
    deps.logger.warn({ event: 'policy_abandoned', uid: request.uid, policy: policy.id, deadlineMs, elapsedMs, overran }, 'policy abandoned at the review deadline');
    if (mode === 'audit') return;
    const what = overran ? `did not finish within the review's deadline of ${deadlineMs}ms` : `was not run: the review's deadline of ${deadlineMs}ms had passed`;
    this.couldNotRun(
      policy,
      `${what}; the request is refused because this policy fails closed (onError: deny). Retry, or raise server.reviewDeadlineMs; the log has uid ${request.uid}`,
      `${what}; the object was not checked by it (onError: allow-with-warning). The log has uid ${request.uid}`,
    );
  }

  /** A policy that crashed or was abandoned: `result: error`, and its onError decides between deny and warn. */
  private couldNotRun(policy: AnyPolicy, denyMessage: string, warnMessage: string): void {
    const failClosed = policy.onError === 'deny';
    this.verdict.fired.push(policy.id);
    this.verdict.findings.push({ policy: policy.id, mode: failClosed ? 'deny' : 'warn', result: 'error', resource: this.resource, path: '', message: failClosed ? denyMessage : warnMessage });
    if (failClosed) this.verdict.allowed = false;
  }
}

const NOTHING_CREATED: Set<string> = new Set();

const MODE_SEVERITY: Readonly<Record<Mode, number>> = { audit: 0, warn: 1, deny: 2 };

/** The warnings of a verdict in full (warn findings, then notices): what the CLI prints, where no 4 KiB limit applies. */
export function fullWarnings(verdict: Pick<Verdict, 'findings' | 'notices'>): string[] {
  return [...verdict.findings.filter((f) => f.mode === 'warn').map(formatFinding), ...verdict.notices];
}

export function formatFinding(f: Pick<Finding, 'policy' | 'path' | 'message'>): string {
  return f.path ? `[${f.policy}] ${f.path}: ${f.message}` : `[${f.policy}] ${f.message}`;
}

/**
 * The answer the API server gets: denials in `status.message` and warnings within their bounds (bounded-answer.ts);
 * the verdict keeps every finding in full for the log, `check` and Events.
 */
export function buildResponse(uid: string, verdict: Verdict, endpoint: Endpoint, resource?: ResourceRef): AdmissionReviewResponse {
  const response: AdmissionReviewResponse['response'] = { uid, allowed: verdict.allowed };
  const about = resource ?? verdict.findings[0]?.resource ?? { apiVersion: '', kind: '', namespace: '', name: '' };
  // Skipped findings never deny or warn: they are logged, counted and reported by check and audit.
  const applied = verdict.findings.length === 0 ? verdict.findings : verdict.findings.filter((f) => f.result !== 'skip');
  // Most answers carry nothing to bound: undefined then, not a new empty array, whose other element kind sent the
  // optimised answer path back to the interpreter (see fitLines).
  const warnings = applied.length === 0 && verdict.notices.length === 0 ? undefined : boundedWarnings(applied, verdict.notices, endpoint, about);
  if (!verdict.allowed) {
    const denials = applied.filter((f) => f.mode === 'deny');
    response.status = { code: 403, reason: 'Forbidden', message: boundedDenial(denials, about) };
  }
  if (warnings !== undefined && warnings.length > 0) response.warnings = warnings;
  if (endpoint === 'mutate' && verdict.allowed && verdict.patch.length > 0) {
    response.patchType = 'JSONPatch';
    response.patch = Buffer.from(JSON.stringify(verdict.patch)).toString('base64');
  }
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response };
}

/**
 * The one flow every door calls: AdmissionReview in, AdmissionReview out. After the verdict, and never on dry run,
 * the side effects (Events) go out through `deps.events`. One log line per review.
 */
export function review(
  input: AdmissionReviewRequest,
  endpoint: Endpoint,
  deps: ReviewDeps,
): { review: AdmissionReviewResponse; verdict: Verdict } {
  const started = performance.now();
  const resource = resourceOf(input.request);
  return answerAndRecord(input.request, endpoint, deps, resource, evaluate(input.request, endpoint, deps, resource), started);
}

/**
 * `review` for the server: the policies run in slices (evaluateSliced), so other requests and probes are served
 * meanwhile; the answer comes at once when the review fits one slice.
 */
export function reviewSliced(
  input: AdmissionReviewRequest,
  endpoint: Endpoint,
  deps: ReviewDeps,
  sliceMs = DEFAULT_SLICE_MS,
): ReviewResult | Promise<ReviewResult> {
  const started = performance.now();
  const resource = resourceOf(input.request);
  const verdict = evaluateSliced(input.request, endpoint, deps, resource, sliceMs);
  return verdict instanceof Promise
    ? verdict.then((v) => answerAndRecord(input.request, endpoint, deps, resource, v, started))
    : answerAndRecord(input.request, endpoint, deps, resource, verdict, started);
}

type ReviewResult = { review: AdmissionReviewResponse; verdict: Verdict };

/** The AdmissionReview answer of a verdict, and its side effects: Events (never on dry run), metrics, the log line. */
function answerAndRecord(
  request: AdmissionRequest,
  endpoint: Endpoint,
  deps: ReviewDeps,
  resource: ResourceRef,
  verdict: Verdict,
  started: number,
): { review: AdmissionReviewResponse; verdict: Verdict } {
  const out = buildResponse(request.uid, verdict, endpoint, resource);
  const dryRun = request.dryRun === true;
  if (!dryRun && deps.events && verdict.events.length > 0) {
    for (const e of verdict.events) deps.events.emit(e.regarding ?? resource, e);
  }
  const seconds = (performance.now() - started) / 1000;
  deps.metrics?.reviewed(
    { endpoint, kind: request.kind.kind, operation: request.operation, allowed: verdict.allowed, dryRun },
    seconds,
  );
  deps.logger.info(new ReviewLine(endpoint, request, resource, verdict, Math.round(seconds * 1e6)), 'review');
  return { review: out, verdict };
}
