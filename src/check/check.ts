import type { PolicySet } from '../review/policy-set.js';
import { evaluate, resourceOf } from '../review/review.js';
import { silentLogger, type Logger } from '../review/deps.js';
import type { Finding, FindingResult, KubeObject, Mode, ResourceRef } from '../kube/types.js';
import { MemoryWorld, type World } from '../world/world.js';
import { NOT_CHECKED, type CrdSchemas } from '../crd/schemas.js';
import type { SourceLocation } from '../input/manifests.js';
import { requestFor, splitApiVersion } from '../kube/request.js';
import { KINDS } from '../kube/registry.js';

/** Policies judged here with the CRDs rather than in the review (registered in policies/ so the config and exemptions reach them). */
export const CRD_SCHEMA_POLICY = 'crd-schema';
export const CRD_RULE_POLICY = 'crd-cel';

export interface CheckedObject {
  object: KubeObject;
  /** `file:line` (files) or any label the caller has (audit: the object's API path). */
  source?: string;
  /** File, line and document index, when read from a file. */
  location?: SourceLocation;
}

/** A finding with where its object was read. */
export type CheckFinding = Finding & { source?: string; location?: SourceLocation };

export interface CheckOptions {
  policies: PolicySet;
  /** Validators from the CRDs (files or the cluster); without them, no schema or CRD rule checks. */
  crds?: CrdSchemas;
  /** Where cross-references are looked up; default: a MemoryWorld of the objects themselves (the files are the world). */
  world?: World;
  kubernetesMinor?: number;
  now: () => Date;
  logger?: Logger;
  /** The number of the first object (its review's uid is `check-<number>`, named in a crashed policy's message). */
  firstIndex?: number;
}

export interface CheckResult {
  findings: CheckFinding[];
  /** How many objects were checked. */
  objects: number;
  /** Things said once on stderr: what could not be checked offline. */
  notes: string[];
}

/** Kinds that have no namespace (so do not get `default`): the registry's, and common ones; CRDs given say their own scope. */
const CLUSTER_SCOPED = new Set([
  ...KINDS.filter((k) => !k.namespaced).map((k) => k.key),
  '/Namespace',
  '/Node',
  '/PersistentVolume',
  'rbac.authorization.k8s.io/ClusterRole',
  'rbac.authorization.k8s.io/ClusterRoleBinding',
  'storage.k8s.io/StorageClass',
  'scheduling.k8s.io/PriorityClass',
  'networking.k8s.io/IngressClass',
  'gateway.networking.k8s.io/GatewayClass',
]);

function isNamespaced(obj: KubeObject, crds: CrdSchemas | undefined): boolean {
  const [group] = splitApiVersion(String(obj.apiVersion));
  return crds?.namespaced(group, String(obj.kind)) ?? !CLUSTER_SCOPED.has(`${group}/${obj.kind}`);
}

/** An object placed as kubectl would send it: without a namespace, in `default` (cluster-scoped kinds stay without). */
export function placed(object: KubeObject, crds?: CrdSchemas): KubeObject {
  if (object.metadata?.namespace || !isNamespaced(object, crds)) return object;
  return { ...object, metadata: { ...object.metadata, namespace: 'default' } };
}

/**
 * Checks objects as if each were created now: the CRD's schema and rules first (what the API server itself would
 * refuse), then every validating policy through the same review core as the webhook, each object as a dry-run CREATE.
 * Objects without a namespace go to `default`, as kubectl would send them. Pure apart from the logger: `check` passes
 * files, `audit` can pass the cluster's objects and its world.
 */
export function checkObjects(items: readonly CheckedObject[], opts: CheckOptions): CheckResult {
  const inNamespaces = items.map((item) => ({ ...item, object: placed(item.object, opts.crds) }));
  const notes = new Set<string>();
  const findings: CheckResult['findings'] = [];
  const prepared = inNamespaces.map((item) => {
    const schema = opts.crds?.check(item.object);
    return { ...item, schema, object: schema?.object ?? item.object };
  });
  const world = opts.world ?? new MemoryWorld(prepared.map((p) => p.object), { kubernetesMinor: opts.kubernetesMinor });

  const crdEntries = [CRD_SCHEMA_POLICY, CRD_RULE_POLICY].map((id) => opts.policies.get(id));
  prepared.forEach((item, i) => {
    const { object, source, location } = item;
    const from = { ...(source !== undefined ? { source } : {}), ...(location ? { location } : {}) };
    const request = requestFor(object, 'CREATE', {
      uid: `check-${(opts.firstIndex ?? 0) + i}`,
      namespace: isNamespaced(object, opts.crds) ? object.metadata?.namespace : undefined,
      dryRun: true,
    });
    const resource: ResourceRef = resourceOf(request);
    // The CRD policies take their mode from the config, are left out when disabled, and honour exemptions.
    const add = (which: 0 | 1, path: string, message: string) => {
      const entry = crdEntries[which];
      if (!entry) return;
      const exemption = opts.policies.exemption(entry.policy.id, object, resource.namespace);
      findings.push({ policy: entry.policy.id, mode: entry.mode, ...(exemption ? { result: 'skip' as const, exemption } : {}), resource, path, message, ...from });
    };
    if (item.schema) {
      for (const f of item.schema.schema) add(0, f.path, f.message);
      for (const f of item.schema.rules) {
        // Not a mistake of its own: the API server's remark that the schema errors kept it from running the rules.
        if (f.message.endsWith(NOT_CHECKED) && item.schema.schema.length > 0) {
          notes.add(`${resource.kind} ${resource.namespace ? `${resource.namespace}/` : ''}${resource.name}${source ? ` (${source})` : ''}: ${NOT_CHECKED}`);
        } else add(1, f.path, f.message);
      }
      for (const n of item.schema.notes) notes.add(n);
    }
    // The review core's verdict, without the AdmissionReview answer review() would build around it (warnings cut to
    // the API server's bounds, the log line): nothing here answers an API server, and the audit judges 10,000s.
    const verdict = evaluate(
      request,
      'validate',
      { policies: opts.policies, world, now: opts.now, logger: opts.logger ?? silentLogger },
      resource,
    );
    for (const f of verdict.findings) findings.push({ ...f, ...from });
  });
  return { findings, objects: items.length, notes: [...notes] };
}

/**
 * Findings in the SPEC shape (what `-o json|yaml` prints), plus what the run knows beyond it: `result` and `exemption`
 * on skipped and errored findings, `source` (file, line, document index) when the object was read from a file.
 */
export function specFindings(findings: readonly CheckFinding[]): (Finding & { source?: SourceLocation })[] {
  return findings.map(({ policy, mode, result, exemption, resource, path, message, location }) => ({
    policy,
    mode,
    ...(result ? { result } : {}),
    ...(exemption ? { exemption } : {}),
    resource,
    path,
    message,
    ...(location ? { source: location } : {}),
  }));
}

const COLUMNS = ['MODE', 'SOURCE', 'KIND', 'NAMESPACE/NAME', 'POLICY', 'PATH', 'MESSAGE'] as const;

/** `file:line`, with `#document` when the file holds more than one (the line alone already tells them apart). */
export function sourceLabel(f: Pick<CheckFinding, 'source' | 'location'>): string {
  if (f.location) return `${f.location.file}:${f.location.line}${f.location.item !== undefined ? ` items[${f.location.item}]` : ''}`;
  return f.source ?? '';
}

/** What the MODE column shows: the mode, or `skip` (exempted) / `error` (the policy could not run). */
export function modeLabel(f: Pick<Finding, 'mode' | 'result'>): string {
  return f.result === 'skip' ? 'skip' : f.result === 'error' ? `${f.mode}:error` : f.mode;
}

/** The widest cell of each column but MESSAGE, and whether there is a SOURCE column: all the table must know of every row before its first line. */
export class TableWidths {
  /** Whether some finding has a source (files); cluster objects have none. */
  withSource = false;
  /** MODE, SOURCE, KIND, NAMESPACE/NAME, POLICY, PATH: each header's length to start with. */
  readonly widths = COLUMNS.slice(0, -1).map((h) => h.length);

  add(f: CheckFinding): void {
    if (sourceLabel(f)) this.withSource = true;
    tableCells(f, true).slice(0, -1).forEach((cell, c) => {
      if (cell.length > this.widths[c]!) this.widths[c] = cell.length;
    });
  }
}

function tableCells(f: CheckFinding, withSource: boolean): string[] {
  return [
    modeLabel(f),
    ...(withSource ? [sourceLabel(f) || '-'] : []),
    f.resource.kind,
    f.resource.namespace ? `${f.resource.namespace}/${f.resource.name}` : f.resource.name,
    f.policy,
    f.path || '-',
    f.exemption ? `${f.message} (skipped: ${f.exemption})` : f.message,
  ];
}

/**
 * A kubectl-like table, line by line: columns padded to their widest cell (`widths`, over every row), three spaces
 * apart, the message last and never cut. With `width` (a terminal), long messages wrap under the MESSAGE column instead
 * of running off the edge. The SOURCE column is there when some finding has one (files), not for cluster objects.
 */
export function findingsTableLines(widths: TableWidths, width?: number): { header: string; row(f: CheckFinding): string } {
  const keep = (_: unknown, c: number) => widths.withSource || COLUMNS[c] !== 'SOURCE';
  const columns = COLUMNS.filter(keep);
  const padded = widths.widths.filter(keep);
  const indent = padded.reduce((a, w) => a + w + 3, 0);
  const line = (cells: readonly string[]) => {
    const head = cells.slice(0, -1).map((c, i) => c.padEnd(padded[i]! + 3)).join('');
    return head + wrap(cells[cells.length - 1]!, width ? width - indent : undefined).join(`\n${' '.repeat(indent)}`);
  };
  return { header: line(columns), row: (f) => line(tableCells(f, widths.withSource)) };
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

/** How many findings there are of each mode and result: what the summary line, JUnit's counts and the exit code need of them. */
export class FindingCounts {
  private readonly byOutcome = new Map<string, { mode: Mode; result: FindingResult | undefined; count: number }>();
  total = 0;

  add(f: Pick<Finding, 'mode' | 'result'>): void {
    const key = `${f.mode}|${f.result ?? ''}`;
    const entry = this.byOutcome.get(key);
    if (entry) entry.count++;
    else this.byOutcome.set(key, { mode: f.mode, result: f.result, count: 1 });
    this.total++;
  }

  /** How many findings are `which`. */
  count(which: (f: Pick<Finding, 'mode' | 'result'>) => boolean): number {
    let n = 0;
    for (const e of this.byOutcome.values()) if (which(e)) n += e.count;
    return n;
  }

  static of(findings: readonly Pick<Finding, 'mode' | 'result'>[]): FindingCounts {
    const counts = new FindingCounts();
    for (const f of findings) counts.add(f);
    return counts;
  }
}

/**
 * One line for stderr after the table: how many findings of each mode (policy errors and skipped ones said apart) in
 * how many objects.
 */
export function summarize(counts: FindingCounts, objects: number): string {
  const skipped = counts.count((f) => f.result === 'skip');
  const applied = counts.total - skipped;
  const errors = counts.count((f) => f.result === 'error');
  const count = (m: Mode) => counts.count((f) => f.result !== 'skip' && f.mode === m);
  const objectsPart = `${objects} object${objects === 1 ? '' : 's'}`;
  const skippedPart = skipped > 0 ? `, ${skipped} skipped by exemptions` : '';
  if (applied === 0) return `no findings${skippedPart} in ${objectsPart}`;
  const parts = (['deny', 'warn', 'audit'] as const).filter((m) => count(m) > 0).map((m) => `${count(m)} ${m}`);
  if (errors > 0) parts.push(`${errors} policy error${errors === 1 ? '' : 's'}`);
  return `${applied} finding${applied === 1 ? '' : 's'} (${parts.join(', ')})${skippedPart} in ${objectsPart}`;
}
