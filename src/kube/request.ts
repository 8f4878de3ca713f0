import type { AdmissionRequest, AdmissionReviewRequest, KubeObject, Operation } from './types.js';
import { KINDS } from './registry.js';

export interface RequestOptions {
  uid: string;
  oldObject?: KubeObject | null;
  /** The request's namespace when it is not the object's own (e.g. none for a cluster-scoped kind, `default` for a pod without one). */
  namespace?: string | undefined;
  dryRun?: boolean;
}

/** `group`, `version` of an apiVersion (`v1` is the core group). */
export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? ['', apiVersion] : [apiVersion.slice(0, slash), apiVersion.slice(slash + 1)];
}

/**
 * The AdmissionRequest kube-apiserver would send for `operation` on `object` (on DELETE, `object` is null and the
 * request describes `oldObject`): what check, explain, inject and the tests hand to the core.
 */
export function requestFor(object: KubeObject | null, operation: Operation, opts: RequestOptions): AdmissionRequest {
  const obj = (object ?? opts.oldObject)!;
  const [group, version] = splitApiVersion(String(obj.apiVersion));
  const plural = KINDS.find((k) => k.group === group && k.kind === obj.kind)?.plural;
  return {
    uid: opts.uid,
    kind: { group, version, kind: String(obj.kind) },
    ...(plural ? { resource: { group, version, resource: plural } } : {}),
    name: obj.metadata?.name,
    namespace: 'namespace' in opts ? opts.namespace : obj.metadata?.namespace,
    operation,
    object,
    oldObject: opts.oldObject ?? null,
    ...(opts.dryRun !== undefined ? { dryRun: opts.dryRun } : {}),
  };
}

/** The same, in its AdmissionReview envelope. */
export function reviewFor(object: KubeObject | null, operation: Operation, opts: RequestOptions): AdmissionReviewRequest {
  return { apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: requestFor(object, operation, opts) };
}
