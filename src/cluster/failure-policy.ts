/**
 * Safe install: the manifests in deploy/ register every webhook entry with `failurePolicy: Ignore`, so applying them
 * before an image exists or a pod is ready refuses nothing. Once this replica is ready (certificates loaded, cache
 * synced), it raises each entry to the failure policy its declaration asks for (`Fail` for the validating entry and
 * the sidecar injection) and keeps it there: a `kubectl apply` of the manifests that resets it is repaired within
 * one interval. It never lowers a policy an operator raised.
 */
import type { Logger } from '../review/deps.js';
import type { JsonPatchOperation } from '../kube/types.js';
import type { CertClusterClient, WebhookConfigRef } from './webhook-certs.js';

export type FailurePolicy = 'Fail' | 'Ignore';

export interface FailurePolicyEnforcerOptions {
  client: Pick<CertClusterClient, 'getWebhookConfiguration' | 'patchWebhookConfiguration'>;
  webhooks: readonly WebhookConfigRef[];
  /** Entry name → the failure policy to hold once ready (WEBHOOK_ENTRIES). Entries not named are left alone. */
  wanted: ReadonlyMap<string, FailurePolicy>;
  /** The same answer /readyz gives. */
  ready: () => boolean;
  logger: Logger;
  intervalMs?: number;
}

export interface EnforceResult {
  state: 'waiting-for-ready' | 'enforced';
  /** `Kind/name: entry` of every entry raised in this pass. */
  raised: string[];
  /** Configurations not found (not applied yet). */
  missing: string[];
}

export class FailurePolicyEnforcer {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<EnforceResult> | undefined;

  constructor(private readonly opts: FailurePolicyEnforcerOptions) {}

  /** One pass. Serialized: a pass still running is returned instead of starting another. */
  reconcileOnce(): Promise<EnforceResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<EnforceResult> {
    const result: EnforceResult = { state: 'waiting-for-ready', raised: [], missing: [] };
    if (!this.opts.ready()) return result;
    result.state = 'enforced';
    for (const ref of this.opts.webhooks) {
      const where = `${ref.kind}/${ref.name}`;
      const config = await this.opts.client.getWebhookConfiguration(ref);
      if (!config) {
        result.missing.push(where);
        continue;
      }
      const ops: JsonPatchOperation[] = [];
      const raised: string[] = [];
      config.webhooks.forEach((w, i) => {
        const want = this.opts.wanted.get(w.name);
        // Only ever raise Ignore → Fail: an entry already at Fail (or wanted at Ignore) stays as the operator has it.
        if (want !== 'Fail' || w.failurePolicy === 'Fail') return;
        ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name }, { op: 'add', path: `/webhooks/${i}/failurePolicy`, value: 'Fail' });
        raised.push(w.name);
      });
      if (ops.length === 0) continue;
      await this.opts.client.patchWebhookConfiguration(ref, ops);
      this.opts.logger.info({ event: 'failure_policy_enforced', kind: ref.kind, name: ref.name, webhooks: raised }, `ready: ${where} now refuses writes it cannot review (failurePolicy Fail on ${raised.join(', ')})`);
      result.raised.push(...raised.map((n) => `${where}: ${n}`));
    }
    return result;
  }

  /** Runs a pass now and then every interval; a failed pass is logged and retried on the next tick. */
  start(): void {
    const tick = () =>
      void this.reconcileOnce().catch((err: Error) =>
        this.opts.logger.warn({ event: 'failure_policy_enforce_failed', message: err.message }, `could not raise the webhook failure policies: ${err.message}`),
      );
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
