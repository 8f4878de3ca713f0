import type { PolicySet } from '../review/policy-set.js';
import { review, resourceOf } from '../review/review.js';
import { silentLogger, type Logger } from '../review/deps.js';
import type { AdmissionReviewRequest, Finding, KubeObject, ResourceRef } from '../kube/types.js';
import { MemoryWorld, type World } from '../world/world.js';
import { splitApiVersion, type CrdSchemas } from '../crd/schemas.js';

/** Policy ids of the findings that come from the CRDs rather than from a policy. */
export const CRD_SCHEMA_POLICY = 'crd-schema';
export const CRD_RULE_POLICY = 'crd-cel';

export interface CheckedObject {
  object: KubeObject;
  /** `file:line` (files) or any label the caller has (audit: the object's API path). */
  source?: string;
}

export interface CheckOptions {
  policies: PolicySet;
  /** Validators from the CRDs (files or the cluster); without them, no schema or CRD rule checks. */
  crds?: CrdSchemas;
  /** Where cross-references are looked up; default: a MemoryWorld of the objects themselves (the files are the world). */
  world?: World;
  kubernetesMinor?: number;
  now: () => Date;
  logger?: Logger;
}

export interface CheckResult {
  findings: (Finding & { source?: string })[];
  /** How many objects were checked. */
  objects: number;
  /** Things said once on stderr: what could not be checked offline. */
  notes: string[];
}

/** Kinds that have no namespace (so do not get `default`); CRDs given say their own scope. */
const CLUSTER_SCOPED = new Set([
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  'apiextensions.k8s.io/CustomResourceDefinition',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'storage.k8s.io/StorageClass',
  'scheduling.k8s.io/PriorityClass',
  'networking.k8s.io/IngressClass',
  'admissionregistration.k8s.io/MutatingWebhookConfiguration',
  'admissionregistration.k8s.io/ValidatingWebhookConfiguration',
  'gateway.networking.k8s.io/GatewayClass',
]);

function isNamespaced(obj: KubeObject, crds: CrdSchemas | undefined): boolean {
  const [group] = splitApiVersion(String(obj.apiVersion));
  return crds?.namespaced(group, String(obj.kind)) ?? !CLUSTER_SCOPED.has(`${group}/${obj.kind}`);
}

/**
 * Checks objects as if each were created now: the CRD's schema and rules first (what the API server itself would
 * refuse), then every validating policy through the same review core as the webhook, each object as a dry-run CREATE.
 * Objects without a namespace go to `default`, as kubectl would send them. Pure apart from the logger: `check` passes
 * files, `audit` can pass the cluster's objects and its world.
 */
export function checkObjects(items: readonly CheckedObject[], opts: CheckOptions): CheckResult {
  const placed = items.map((item) => {
    const object = item.object;
    if (object.metadata?.namespace || !isNamespaced(object, opts.crds)) return item;
    return { ...item, object: { ...object, metadata: { ...object.metadata, namespace: 'default' } } };
  });
  const notes = new Set<string>();
  const findings: CheckResult['findings'] = [];
  const prepared = placed.map((item) => {
    const schema = opts.crds?.check(item.object);
    return { ...item, schema, object: schema?.object ?? item.object };
  });
  const world = opts.world ?? new MemoryWorld(prepared.map((p) => p.object), { kubernetesMinor: opts.kubernetesMinor });

  prepared.forEach((item, i) => {
    const { object, source } = item;
    const [group, version] = splitApiVersion(String(object.apiVersion));
    const request: AdmissionReviewRequest['request'] = {
      uid: `check-${i}`,
      kind: { group, version, kind: String(object.kind) },
      name: object.metadata?.name,
      namespace: isNamespaced(object, opts.crds) ? object.metadata?.namespace : undefined,
      operation: 'CREATE',
      object,
      oldObject: null,
      dryRun: true,
    };
    const resource: ResourceRef = resourceOf(request);
    const add = (policy: string, path: string, message: string) => findings.push({ policy, mode: 'deny', resource, path, message, source });
    if (item.schema) {
      for (const f of item.schema.schema) add(CRD_SCHEMA_POLICY, f.path, f.message);
      for (const f of item.schema.rules) add(CRD_RULE_POLICY, f.path, f.message);
      for (const n of item.schema.notes) notes.add(n);
    }
    const { verdict } = review({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request }, 'validate', {
      policies: opts.policies,
      world,
      now: opts.now,
      logger: opts.logger ?? silentLogger,
    });
    for (const f of verdict.findings) findings.push({ ...f, source });
  });
  return { findings, objects: items.length, notes: [...notes] };
}

/** Findings in the SPEC shape (what `-o json|yaml` prints): no source. */
export function specFindings(findings: readonly (Finding & { source?: string })[]): Finding[] {
  return findings.map(({ policy, mode, resource, path, message }) => ({ policy, mode, resource, path, message }));
}


const COLUMNS = ['MODE', 'KIND', 'NAMESPACE/NAME', 'POLICY', 'PATH', 'MESSAGE'] as const;

/**
 * A kubectl-like table: columns padded to their widest cell, three spaces apart, the message last and never cut.
 * With `width` (a terminal), long messages wrap under the MESSAGE column instead of running off the edge.
 */
export function formatFindingsTable(findings: readonly Finding[], width?: number): string {
  const rows = findings.map((f) => [
    f.mode,
    f.resource.kind,
    f.resource.namespace ? `${f.resource.namespace}/${f.resource.name}` : f.resource.name,
    f.policy,
    f.path || '-',
    f.message,
  ]);
  const widths = COLUMNS.slice(0, -1).map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const indent = widths.reduce((a, w) => a + w + 3, 0);
  const line = (cells: readonly string[]) => {
    const head = cells.slice(0, -1).map((c, i) => c.padEnd(widths[i]! + 3)).join('');
    return head + wrap(cells[cells.length - 1]!, width ? width - indent : undefined).join(`\n${' '.repeat(indent)}`);
  };
  return [line(COLUMNS), ...rows.map(line)].join('\n') + '\n';
}

function wrap(text: string, width: number | undefined): string[] {
  if (!width || width < 30 || text.length <= width) return [text];
  const lines: string[] = [];
  let current = '';
  for (const word of text.split(' ')) {
    if (current && current.length + 1 + word.length > width) {
      lines.push(current);
      current = word;
    } else current = current ? `${current} ${word}` : word;
  }
  if (current) lines.push(current);
  return lines;
}

/** One line for stderr after the table: how many findings of each mode in how many objects. */
export function summarize(result: CheckResult): string {
  const count = (m: string) => result.findings.filter((f) => f.mode === m).length;
  const objects = `${result.objects} object${result.objects === 1 ? '' : 's'}`;
  if (result.findings.length === 0) return `no findings in ${objects}`;
  const parts = (['deny', 'warn', 'audit'] as const).filter((m) => count(m) > 0).map((m) => `${count(m)} ${m}`);
  return `${result.findings.length} finding${result.findings.length === 1 ? '' : 's'} (${parts.join(', ')}) in ${objects}`;
}
