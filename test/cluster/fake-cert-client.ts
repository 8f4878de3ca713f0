import { apply_patch } from 'jsonpatch';
import { ConflictError, type CertClusterClient, type SecretState, type WebhookConfigRef, type WebhookConfigState } from '../../src/cluster/webhook-certs.js';
import type { JsonPatchOperation } from '../../src/kube/types.js';

/** An in-memory API server for the certificate manager: resourceVersions, 409s, JSON Patch, a call log. */
export class FakeCertClient implements CertClusterClient {
  secret: SecretState | null = null;
  private rv = 0;
  readonly configs = new Map<string, { webhooks: Array<{ name: string; failurePolicy?: string; clientConfig: { caBundle?: string } }> }>();
  readonly calls: string[] = [];
  readonly patches: Array<{ ref: string; ops: JsonPatchOperation[] }> = [];

  /** Entries given by name only get `failurePolicy: Fail`, as the API server defaults an omitted one. */
  constructor(
    webhooks: Record<string, Array<string | { name: string; failurePolicy: 'Fail' | 'Ignore' }>> = {
      'ValidatingWebhookConfiguration/aigw-admission': ['gateway.validate.aigw-admission.io'],
      'MutatingWebhookConfiguration/aigw-admission': ['gateway.mutate.aigw-admission.io', 'pods.mutate.aigw-admission.io'],
    },
  ) {
    for (const [ref, entries] of Object.entries(webhooks)) {
      this.configs.set(ref, { webhooks: entries.map((e) => (typeof e === 'string' ? { name: e, failurePolicy: 'Fail', clientConfig: {} } : { ...e, clientConfig: {} })) });
    }
  }

  /** A `kubectl apply` of the manifests: caBundle is gone again. */
  wipeCaBundles(): void {
    for (const c of this.configs.values()) c.webhooks.forEach((w) => delete w.clientConfig.caBundle);
  }

  caBundle(ref: string, index: number): string | undefined {
    return this.configs.get(ref)?.webhooks[index]?.clientConfig.caBundle;
  }

  private copy(s: SecretState): SecretState {
    return structuredClone(s);
  }

  async getSecret(namespace: string, name: string) {
    this.calls.push(`get Secret ${namespace}/${name}`);
    return this.secret ? this.copy(this.secret) : null;
  }

  async createSecret(namespace: string, name: string, data: Record<string, string>, annotations: Record<string, string>) {
    this.calls.push(`create Secret ${namespace}/${name}`);
    if (this.secret) throw new ConflictError(`create Secret ${namespace}/${name}`);
    this.secret = { resourceVersion: String(++this.rv), data: { ...data }, annotations: { ...annotations } };
    return this.copy(this.secret);
  }

  async updateSecret(namespace: string, name: string, resourceVersion: string, data: Record<string, string>, annotations: Record<string, string>) {
    this.calls.push(`update Secret ${namespace}/${name}`);
    if (!this.secret || this.secret.resourceVersion !== resourceVersion) throw new ConflictError(`update Secret ${namespace}/${name}`);
    this.secret = { resourceVersion: String(++this.rv), data: { ...data }, annotations: { ...annotations } };
    return this.copy(this.secret);
  }

  async getWebhookConfiguration(ref: WebhookConfigRef): Promise<WebhookConfigState | null> {
    const key = `${ref.kind}/${ref.name}`;
    this.calls.push(`get ${key}`);
    const c = this.configs.get(key);
    return c ? { webhooks: c.webhooks.map((w) => ({ name: w.name, caBundle: w.clientConfig.caBundle, failurePolicy: w.failurePolicy })) } : null;
  }

  async patchWebhookConfiguration(ref: WebhookConfigRef, ops: JsonPatchOperation[]) {
    const key = `${ref.kind}/${ref.name}`;
    this.calls.push(`patch ${key}`);
    this.patches.push({ ref: key, ops });
    const c = this.configs.get(key);
    if (!c) throw new Error(`${key} not found`);
    this.configs.set(key, apply_patch(c, ops));
  }
}

/** A clock the test moves by hand. */
export function fakeClock(start = Date.now()) {
  let t = start;
  return { now: () => new Date(t), advance: (ms: number) => void (t += ms), at: () => t };
}

export const DAY = 86_400_000;
