/** The AdmissionReview v1 wire shapes (admission.k8s.io/v1), the finding shape, and the policy contract. */

export type Operation = 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
export const OPERATIONS: readonly Operation[] = ['CREATE', 'UPDATE', 'DELETE', 'CONNECT'];
export type Mode = 'deny' | 'warn' | 'audit';
export const MODES: readonly Mode[] = ['deny', 'warn', 'audit'];
/** Which webhook path a policy runs behind. */
export type Endpoint = 'validate' | 'mutate';

export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata?: {
    name?: string;
    namespace?: string;
    generateName?: string;
    uid?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    creationTimestamp?: string;
    [k: string]: unknown;
  };
  [k: string]: unknown;
};

export interface AdmissionRequest {
  uid: string;
  kind: GroupVersionKind;
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  requestKind?: GroupVersionKind;
  name?: string;
  namespace?: string;
  operation: Operation;
  userInfo?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  object: KubeObject | null;
  oldObject: KubeObject | null;
  dryRun?: boolean;
  options?: { kind?: string; [k: string]: unknown } | null;
}

export interface AdmissionReviewRequest {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string; reason: string };
  warnings?: string[];
  patchType?: 'JSONPatch';
  patch?: string;
}

export interface AdmissionReviewResponse {
  apiVersion: 'admission.k8s.io/v1';
  kind: 'AdmissionReview';
  response: AdmissionResponse;
}

export interface ResourceRef {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

/**
 * What a policy's run on an object came to, beyond an ordinary finding (the object fails the policy): `error`, the
 * policy could not run (it crashed; its onError decides the mode); `skip`, the object is exempted from the policy
 * (annotation or config exclusion), so the finding is reported but never denies, warns or patches. With `pass` and
 * `fail`, these are the PolicyReport results.
 */
export type FindingResult = 'error' | 'skip';

/** One shape everywhere: responses, check, audit, reports, logs (SPEC §1). */
export interface Finding {
  policy: string;
  mode: Mode;
  resource: ResourceRef;
  path: string;
  message: string;
  /** Set on a note about what a mutating policy wrote (see FindingDraft.note): the phrase the answer's digest counts. */
  note?: string;
  /** Absent on an ordinary finding. */
  result?: FindingResult;
  /** With `result: skip`: the reason the exemption gives. */
  exemption?: string;
}

/** What a policy reports; the review fills in policy, mode and resource. */
export interface FindingDraft {
  path: string;
  message: string;
  /**
   * The most severe mode this finding may take, whatever the policy's mode: a policy whose other findings deny can report
   * one that must never block (e.g. a reference to an object that may simply not be created yet). Never raises the mode.
   */
  atMost?: Mode;
  /**
   * Marks a finding that only says what a mutating policy wrote, with a short phrase that is the same for every such
   * finding (`wrote timeouts.request`): answers carry these as one counted line per object, after the real findings.
   */
  note?: string;
}

export type JsonPatchOperation =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string }
  | { op: 'move' | 'copy'; path: string; from: string };

/** A Kubernetes Event the review emits on the admitted object after the verdict, never on dry run. */
export interface EventDraft {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** Defaults to the admitted object. */
  regarding?: ResourceRef;
}

/**
 * Something a policy saw that operators must be able to count and read: one structured log line
 * (`event`, `reason`, the fields) and one metric increment per observation, in every mode and on dry run too.
 */
export interface Observation {
  /** The log line's `event`, e.g. `sidecar_injection_skipped`, `route_lookup_miss`. */
  event: string;
  reason: string;
  fields?: Record<string, unknown>;
}

/** Kinds are matched by API group and kind, any version (AIGatewayRoute v1alpha1 and v1beta1 share one schema). */
export interface KindMatch {
  group: string;
  kind: string;
  /** The plural resource, for webhook rules in deploy/. */
  resource: string;
  /** The versions the webhook rules list. */
  versions: string[];
}

/**
 * The read-only world policies look things up in: the given files (`check`, `explain`, standalone) or the informer cache
 * (`serve`, `audit`). Policies cannot tell which one they got. Kinds are keyed by `group/Kind` (core: `/Kind`).
 */
export interface World {
  get(groupKind: string, namespace: string, name: string): KubeObject | undefined;
  list(groupKind: string, namespace?: string): KubeObject[];
  /**
   * Whether this world can say that an object of a kind does not exist: the cluster cache for every kind it watches,
   * a world of files only for the kinds the files hold. A policy that reports a missing object asks this first, so
   * checking a route file alone is not an error.
   */
  covers(groupKind: string): boolean;
  /** The Kubernetes minor version of the cluster (e.g. 33 for `33+`), when known. */
  kubernetesMinor(): number | undefined;
  /** When the cache last had a complete view; undefined for a world that is always complete (files). */
  syncedAt(): Date | undefined;
  /** True once the first full list has arrived (files: always). */
  ready(): boolean;
}
