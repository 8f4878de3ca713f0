import {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  PatchStrategy,
  setHeaderOptions,
  type KubeConfig,
  type V1Secret,
} from '../kube/client.js';
import { AdmissionError } from '../review/errors.js';
import { ConflictError, type CertClusterClient, type SecretState, type WebhookConfigRef, type WebhookConfigState } from './webhook-certs.js';

const FIELD_MANAGER = 'aigw-admission';

function status(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/** Name the call and the RBAC rule behind a 403, so an operator knows what to grant. */
function explain(err: unknown, call: string): Error {
  const code = status(err);
  if (code === 403) return new Error(`${call}: forbidden (403); the ServiceAccount needs the rules in deploy/rbac.yaml`);
  return new Error(`${call}: ${code ? `HTTP ${code}` : (err as Error).message}`);
}

/** The managed certificate's Secret cannot be created: its namespace does not exist. A user error, with both ways out. */
export function namespaceMissing(namespace: string, name: string): AdmissionError {
  return new AdmissionError(
    'NO_CLUSTER',
    `cannot keep the webhook certificate in Secret ${namespace}/${name}: namespace "${namespace}" does not exist. ` +
      `Create it (kubectl create namespace ${namespace}), or pass --namespace with one that exists, ` +
      `or serve a certificate of your own: --no-manage-certs --tls-dir DIR (made when absent)`,
  );
}

function decode(secret: V1Secret): SecretState {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, 'base64').toString('utf8');
  return { resourceVersion: secret.metadata?.resourceVersion ?? '', data, annotations: { ...(secret.metadata?.annotations ?? {}) } };
}

function encode(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
}

/** CertClusterClient over @kubernetes/client-node. */
export function kubeCertClient(kc: KubeConfig): CertClusterClient {
  const core = kc.makeApiClient(CoreV1Api);
  const admission = kc.makeApiClient(AdmissionregistrationV1Api);
  const secretBody = (namespace: string, name: string, data: Record<string, string>, annotations: Record<string, string>, resourceVersion?: string): V1Secret => ({
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'kubernetes.io/tls',
    metadata: { name, namespace, annotations, labels: { 'app.kubernetes.io/name': 'aigw-admission' }, ...(resourceVersion ? { resourceVersion } : {}) },
    data: encode(data),
  });
  return {
    async getSecret(namespace, name) {
      try {
        return decode(await core.readNamespacedSecret({ namespace, name }));
      } catch (err) {
        if (status(err) === 404) return null;
        throw explain(err, `get Secret ${namespace}/${name}`);
      }
    },
    async createSecret(namespace, name, data, annotations) {
      try {
        return decode(await core.createNamespacedSecret({ namespace, body: secretBody(namespace, name, data, annotations), fieldManager: FIELD_MANAGER }));
      } catch (err) {
        if (status(err) === 409) throw new ConflictError(`create Secret ${namespace}/${name}`);
        // Secrets are always served: a 404 on create is the namespace (a workstation `serve --kubeconfig` before install).
        if (status(err) === 404) throw namespaceMissing(namespace, name);
        throw explain(err, `create Secret ${namespace}/${name}`);
      }
    },
    async updateSecret(namespace, name, resourceVersion, data, annotations) {
      try {
        return decode(await core.replaceNamespacedSecret({ namespace, name, body: secretBody(namespace, name, data, annotations, resourceVersion), fieldManager: FIELD_MANAGER }));
      } catch (err) {
        if (status(err) === 409) throw new ConflictError(`update Secret ${namespace}/${name}`);
        throw explain(err, `update Secret ${namespace}/${name}`);
      }
    },
    async getWebhookConfiguration(ref: WebhookConfigRef): Promise<WebhookConfigState | null> {
      try {
        const obj =
          ref.kind === 'ValidatingWebhookConfiguration'
            ? await admission.readValidatingWebhookConfiguration({ name: ref.name })
            : await admission.readMutatingWebhookConfiguration({ name: ref.name });
        return { webhooks: (obj.webhooks ?? []).map((w) => ({ name: w.name, caBundle: w.clientConfig?.caBundle, failurePolicy: w.failurePolicy })) };
      } catch (err) {
        if (status(err) === 404) return null;
        throw explain(err, `get ${ref.kind} ${ref.name}`);
      }
    },
    async patchWebhookConfiguration(ref, ops) {
      const options = setHeaderOptions('Content-Type', PatchStrategy.JsonPatch);
      try {
        if (ref.kind === 'ValidatingWebhookConfiguration') await admission.patchValidatingWebhookConfiguration({ name: ref.name, body: ops, fieldManager: FIELD_MANAGER }, options);
        else await admission.patchMutatingWebhookConfiguration({ name: ref.name, body: ops, fieldManager: FIELD_MANAGER }, options);
      } catch (err) {
        throw explain(err, `patch ${ref.kind} ${ref.name}`);
      }
    },
  };
}
