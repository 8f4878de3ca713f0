import { CustomObjectsApi, type KubeConfig } from '@kubernetes/client-node';
import type { Finding, KubeObject, Mode } from '../kube/types.js';
import { describeApiError } from '../world/cluster-world.js';

export const REPORT_GROUP = 'wgpolicyk8s.io';
export const REPORT_VERSION = 'v1alpha2';
export const REPORT_PLURAL = 'policyreports';
/** One report per namespace, always this name, so a rerun finds and updates it. */
export const REPORT_NAME = 'aigw-admission';
export const REPORT_SOURCE = 'aigw-admission';
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'aigw-admission' } as const;
/**
 * Results kept per report. Findings always go in; `pass` results fill what is left, so a namespace with thousands of
 * clean objects stays far below etcd's object size limit. The summary still counts every pass.
 */
export const MAX_RESULTS = 1000;

export type ReportResult = 'pass' | 'fail' | 'warn';

export interface PolicyReportResult {
  source: string;
  policy: string;
  result: ReportResult;
  message: string;
  properties?: Record<string, string>;
  resources: { apiVersion: string; kind: string; namespace?: string; name: string; uid?: string }[];
  timestamp: { seconds: number; nanos: number };
}

export interface PolicyReport extends KubeObject {
  apiVersion: `${typeof REPORT_GROUP}/${typeof REPORT_VERSION}`;
  kind: 'PolicyReport';
  metadata: { name: string; namespace: string; labels: Record<string, string>; resourceVersion?: string };
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: PolicyReportResult[];
}

/** deny → fail; warn and audit (a policy only watching) → warn, with the mode kept in `properties.mode`. */
export function resultOf(mode: Mode): ReportResult {
  return mode === 'deny' ? 'fail' : 'warn';
}

export function emptyReport(namespace: string): PolicyReport {
  return {
    apiVersion: `${REPORT_GROUP}/${REPORT_VERSION}`,
    kind: 'PolicyReport',
    metadata: { name: REPORT_NAME, namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value } },
    summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 },
    results: [],
  };
}

const objectKey = (kind: string, namespace: string, name: string) => `${kind}|${namespace}|${name}`;

/**
 * One PolicyReport per namespace that holds a checked object: a result per finding, and a `pass` result per checked
 * object without findings (policy `aigw-admission`: every policy passed).
 */
export function buildReports(findings: readonly Finding[], checked: readonly KubeObject[], now: Date): Map<string, PolicyReport> {
  const timestamp = { seconds: Math.floor(now.getTime() / 1000), nanos: 0 };
  const reports = new Map<string, PolicyReport>();
  const reportFor = (ns: string) => {
    let r = reports.get(ns);
    if (!r) reports.set(ns, (r = emptyReport(ns)));
    return r;
  };
  const withFindings = new Set<string>();
  for (const f of findings) {
    if (!f.resource.namespace) continue; // cluster-scoped objects have no namespace report
    withFindings.add(objectKey(f.resource.kind, f.resource.namespace, f.resource.name));
    const report = reportFor(f.resource.namespace);
    const result = resultOf(f.mode);
    report.summary[result]++;
    report.results.push({
      source: REPORT_SOURCE,
      policy: f.policy,
      result,
      message: f.message,
      properties: { mode: f.mode, ...(f.path ? { path: f.path } : {}) },
      resources: [{ ...f.resource }],
      timestamp,
    });
  }
  for (const o of checked) {
    const ns = o.metadata?.namespace;
    const name = o.metadata?.name ?? '';
    if (!ns || withFindings.has(objectKey(String(o.kind), ns, name))) continue;
    const report = reportFor(ns);
    report.summary.pass++;
    if (report.results.length >= MAX_RESULTS) continue;
    report.results.push({
      source: REPORT_SOURCE,
      policy: REPORT_SOURCE,
      result: 'pass',
      message: 'no findings',
      resources: [{ apiVersion: String(o.apiVersion), kind: String(o.kind), namespace: ns, name, ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}) }],
      timestamp,
    });
  }
  return reports;
}

/** The PolicyReport calls the writer needs; `kubeReportClient` talks to the API server, tests can fake it. */
export interface ReportClient {
  get(namespace: string, name: string): Promise<PolicyReport | undefined>;
  create(report: PolicyReport): Promise<void>;
  replace(report: PolicyReport): Promise<void>;
  /** Namespaces that hold a report of ours (label selector), in `namespace` only when given. */
  managedNamespaces(namespace?: string): Promise<string[]>;
}

export class ReportConflict extends Error {}

function code(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

export function kubeReportClient(kc: KubeConfig): ReportClient {
  const api = kc.makeApiClient(CustomObjectsApi);
  const base = { group: REPORT_GROUP, version: REPORT_VERSION, plural: REPORT_PLURAL };
  const rethrow = (what: string) => (err: unknown): never => {
    if (code(err) === 409) throw new ReportConflict(`${what}: ${describeApiError(err)}`);
    throw new Error(`${what}: ${describeApiError(err)}`);
  };
  return {
    async get(namespace, name) {
      try {
        return (await api.getNamespacedCustomObject({ ...base, namespace, name })) as PolicyReport;
      } catch (err) {
        if (code(err) === 404) return undefined;
        return rethrow(`GET PolicyReport ${namespace}/${name}`)(err);
      }
    },
    async create(report) {
      await api.createNamespacedCustomObject({ ...base, namespace: report.metadata.namespace, body: report }).catch(rethrow(`create PolicyReport ${report.metadata.namespace}/${report.metadata.name}`));
    },
    async replace(report) {
      const { namespace, name } = report.metadata;
      await api.replaceNamespacedCustomObject({ ...base, namespace, name, body: report }).catch(rethrow(`update PolicyReport ${namespace}/${name}`));
    },
    async managedNamespaces(namespace) {
      const found = new Set<string>();
      let token: string | undefined;
      do {
        const args = { ...base, labelSelector: `${MANAGED_BY.key}=${MANAGED_BY.value}`, limit: 500, _continue: token };
        const page = (await (namespace === undefined ? api.listClusterCustomObject(args) : api.listNamespacedCustomObject({ ...args, namespace })).catch(
          rethrow('list PolicyReports'),
        )) as { items?: KubeObject[]; metadata?: { continue?: string } };
        for (const r of page.items ?? []) if (r.metadata?.namespace && r.metadata.name === REPORT_NAME) found.add(r.metadata.namespace);
        token = page.metadata?.continue || undefined;
      } while (token);
      return [...found];
    },
  };
}

export interface WriteSummary {
  created: string[];
  updated: string[];
  /** Namespaces whose earlier report was emptied: nothing there is checked any more. */
  emptied: string[];
}

const CONFLICT_RETRIES = 5;

/**
 * Writes each report in place: read it, replace it with the read resourceVersion, create it when absent. A 409 (someone
 * wrote in between, or two writers created at once) means read again and retry, so a namespace never gets a second
 * report. Reports of ours in namespaces with nothing left to say are emptied rather than deleted, so their readers
 * see "checked, nothing found" instead of a report that vanished.
 */
export async function writeReports(client: ReportClient, reports: ReadonlyMap<string, PolicyReport>, opts: { namespace?: string } = {}): Promise<WriteSummary> {
  const summary: WriteSummary = { created: [], updated: [], emptied: [] };
  // A namespaced audit saw only part of other namespaces (the proxy pods of its Gateways): their reports stay as they are.
  const all = new Map([...reports].filter(([ns]) => opts.namespace === undefined || ns === opts.namespace));
  for (const ns of await client.managedNamespaces(opts.namespace)) {
    if (!all.has(ns)) {
      all.set(ns, emptyReport(ns));
      summary.emptied.push(ns);
    }
  }
  for (const [ns, report] of [...all].sort(([a], [b]) => a.localeCompare(b))) {
    const outcome = await upsert(client, report);
    if (!summary.emptied.includes(ns)) summary[outcome].push(ns);
  }
  return summary;
}

async function upsert(client: ReportClient, report: PolicyReport): Promise<'created' | 'updated'> {
  const { namespace, name } = report.metadata;
  for (let attempt = 0; ; attempt++) {
    const current = await client.get(namespace, name);
    try {
      if (!current) {
        await client.create(report);
        return 'created';
      }
      await client.replace({ ...report, metadata: { ...report.metadata, resourceVersion: current.metadata?.resourceVersion } });
      return 'updated';
    } catch (err) {
      if (!(err instanceof ReportConflict) || attempt >= CONFLICT_RETRIES) throw err;
    }
  }
}
