import { EventsV1Api, V1MicroTime, type EventsV1Event, type KubeConfig } from '../kube/client.js';
import type { EventSink, Logger } from '../review/deps.js';
import { describeApiError } from './cluster-world.js';
import type { EventDraft, ResourceRef } from '../kube/types.js';

export const REPORTING_CONTROLLER = 'aigw-admission';
/** events.k8s.io/v1 limits (kube-apiserver validation). */
const NOTE_LIMIT_BYTES = 1024;
const FIELD_LIMIT = 128;
/** metadata.name is a DNS-1123 subdomain: at most 253 characters. */
const NAME_LIMIT = 253;

export interface EventWriteMetrics {
  eventWrite(result: 'created' | 'deduplicated' | 'failed' | 'dropped'): void;
}

export interface KubeEventSinkOptions {
  kubeConfig: KubeConfig;
  logger: Logger;
  /** The pod name (`POD_NAME`, else the hostname, which is the pod name in a pod). */
  reportingInstance: string;
  now?: () => Date;
  /** The same Event (regarding object, type, reason, message) again within this window is written once. */
  dedupWindowMs?: number;
  /** Writes in flight at once; more wait in a queue. */
  maxInFlight?: number;
  /** Writes waiting beyond this are dropped (and logged): a burst must not grow memory without bound. */
  maxQueued?: number;
  metrics?: EventWriteMetrics;
}

function truncateUtf8(text: string, maxBytes: number): string {
  if (Buffer.byteLength(text) <= maxBytes) return text;
  let out = Buffer.from(text).subarray(0, maxBytes - 3).toString('utf8');
  // A cut through a multi-byte character leaves U+FFFD; drop it.
  out = out.replace(/\uFFFD$/, '');
  return `${out}...`;
}

/**
 * `<object>.<hex>` as client-go's recorders name Events (the hex there is the time in nanoseconds): a full name, since
 * a `generateName` ending in `.` is refused (a name must end with an alphanumeric character). `unique` tells apart
 * Events made within the same millisecond. The object part is cut so the name stays within 253 characters.
 */
export function eventName(objectName: string, at: Date, unique: number): string {
  const hex = (BigInt(at.getTime()) * 1_000_000n + BigInt(unique % 1_000_000)).toString(16);
  const base = (objectName || 'object').slice(0, NAME_LIMIT - hex.length - 1).replace(/[-.]+$/, '');
  return `${base || 'object'}.${hex}`;
}

/**
 * The events.k8s.io/v1 Event body for one draft. `unique` goes into the name (see eventName). A cluster-scoped object's
 * Event goes to `default`, the one namespace besides kube-system the API server accepts for it.
 */
export function eventBody(regarding: ResourceRef, draft: EventDraft, at: Date, reportingInstance: string, unique = 0): EventsV1Event {
  return {
    apiVersion: 'events.k8s.io/v1',
    kind: 'Event',
    metadata: { name: eventName(regarding.name, at, unique), namespace: regarding.namespace || 'default' },
    eventTime: new V1MicroTime(at.getTime()),
    type: draft.type,
    reason: truncateUtf8(draft.reason, FIELD_LIMIT),
    action: 'Admission',
    note: truncateUtf8(draft.message, NOTE_LIMIT_BYTES),
    regarding: {
      apiVersion: regarding.apiVersion,
      kind: regarding.kind,
      name: regarding.name,
      ...(regarding.namespace ? { namespace: regarding.namespace } : {}),
    },
    reportingController: REPORTING_CONTROLLER,
    reportingInstance: truncateUtf8(reportingInstance, FIELD_LIMIT),
  };
}

/**
 * Creates Events fire-and-forget: `emit()` only queues. At most `maxInFlight` writes run at once; a burst of the
 * same Event is written once per window; failures are logged and counted, never thrown into the review.
 */
export class KubeEventSink implements EventSink {
  private readonly api: EventsV1Api;
  private readonly now: () => Date;
  private readonly recent = new Map<string, number>();
  private readonly queue: Array<{ body: EventsV1Event; key: string }> = [];
  private inFlight = 0;
  /** Counts Events made, so two in the same millisecond get different names. */
  private made = 0;
  private readonly idleWaiters: Array<() => void> = [];
  private readonly dedupWindowMs: number;
  private readonly maxInFlight: number;
  private readonly maxQueued: number;

  constructor(private readonly options: KubeEventSinkOptions) {
    this.api = options.kubeConfig.makeApiClient(EventsV1Api);
    this.now = options.now ?? (() => new Date());
    this.dedupWindowMs = options.dedupWindowMs ?? 60_000;
    this.maxInFlight = options.maxInFlight ?? 4;
    this.maxQueued = options.maxQueued ?? 1000;
  }

  emit(regarding: ResourceRef, draft: EventDraft): void {
    const at = this.now();
    const key = JSON.stringify([regarding.apiVersion, regarding.kind, regarding.namespace, regarding.name, draft.type, draft.reason, draft.message]);
    this.forgetOlderThan(at.getTime() - this.dedupWindowMs);
    const seen = this.recent.get(key);
    if (seen !== undefined && at.getTime() - seen < this.dedupWindowMs) {
      this.options.metrics?.eventWrite('deduplicated');
      return;
    }
    if (this.queue.length >= this.maxQueued) {
      this.options.metrics?.eventWrite('dropped');
      this.options.logger.warn(
        { event: 'kube_event_dropped', reason: draft.reason, regarding, queued: this.queue.length },
        'Event not written: too many waiting',
      );
      return;
    }
    this.recent.set(key, at.getTime());
    this.queue.push({ body: eventBody(regarding, draft, at, this.options.reportingInstance, this.made++), key });
    this.pump();
  }

  /** Resolves when nothing is queued or in flight (shutdown and tests), or after `maxWaitMs` when given. */
  idle(maxWaitMs?: number): Promise<void> {
    if (this.inFlight === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve);
      if (maxWaitMs !== undefined) setTimeout(resolve, maxWaitMs).unref();
    });
  }

  private forgetOlderThan(cutoff: number): void {
    // Map iteration is insertion order and entries are inserted in time order: stop at the first young one.
    for (const [key, at] of this.recent) {
      if (at > cutoff) break;
      this.recent.delete(key);
    }
  }

  private pump(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.inFlight++;
      this.write(job).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
      });
    }
  }

  private async write(job: { body: EventsV1Event; key: string }): Promise<void> {
    const { body } = job;
    try {
      await this.api.createNamespacedEvent({ namespace: body.metadata!.namespace!, body });
      this.options.metrics?.eventWrite('created');
    } catch (err) {
      // Let the next occurrence try again rather than be swallowed as a duplicate of a write that never happened.
      this.recent.delete(job.key);
      this.options.metrics?.eventWrite('failed');
      this.options.logger.warn(
        {
          event: 'kube_event_failed',
          reason: body.reason,
          regarding: body.regarding,
          message: describeApiError(err),
        },
        'Event not written',
      );
    }
  }
}
