import { CustomObjectsApi, type KubeConfig } from '../kube/client.js';
import type { Finding, KubeObject } from '../kube/types.js';
import type { ReportApiChoice } from '../config/config.js';
import type { Logger } from '../review/deps.js';
import { AdmissionError } from '../review/errors.js';
import { describeApiError } from '../world/cluster-world.js';

/** A report API the audit can write: Kyverno 1.15+ and Policy Reporter read openreports.io; older tools wgpolicyk8s.io. */
export interface ReportApi {
  group: string;
  version: string;
  plural: string;
  kind: 'Report' | 'PolicyReport';
}
export const OPENREPORTS: ReportApi = { group: 'openreports.io', version: 'v1alpha1', plural: 'reports', kind: 'Report' };
export const WGPOLICY: ReportApi = { group: 'wgpolicyk8s.io', version: 'v1alpha2', plural: 'policyreports', kind: 'PolicyReport' };
/** What each `audit.reports` choice may write, in order of preference. */
export const REPORT_APIS: Record<ReportApiChoice, readonly ReportApi[]> = {
  auto: [OPENREPORTS, WGPOLICY],
  'openreports.io': [OPENREPORTS],
  'wgpolicyk8s.io': [WGPOLICY],
};
export const apiVersionOf = (api: ReportApi) => `${api.group}/${api.version}`;
/** The optional overlay that installs both report CRDs. */
export const REPORT_CRDS_OVERLAY = 'deploy/overlays/report-crds';

/** One report per namespace, always this name, so a rerun finds and updates it. */
export const REPORT_NAME = 'aigw-admission';
export const REPORT_SOURCE = 'aigw-admission';
/** The owner label: the reports of ours, the only ones the audit reads, updates or empties. */
export const MANAGED_BY = { key: 'app.kubernetes.io/managed-by', value: 'aigw-admission' } as const;
/** When the audit run that wrote the report judged the cluster (RFC 3339). */
export const AUDITED_AT_ANNOTATION = 'aigw-admission.io/audited-at';
/**
 * Results kept per report. Findings always go in; `pass` results fill what is left, so a namespace with thousands of
 * clean objects stays far below etcd's object size limit. The summary still counts every pass.
 */
export const MAX_RESULTS = 1000;

export type ReportResult = 'pass' | 'fail' | 'warn' | 'error' | 'skip';

export interface PolicyReportResult {
  source: string;
  policy: string;
  result: ReportResult;
  message: string;
  properties?: Record<string, string>;
  resources: { apiVersion: string; kind: string; namespace?: string; name: string; uid?: string }[];
  timestamp: { seconds: number; nanos: number };
}

/** A report as written: an openreports.io Report or a wgpolicyk8s.io PolicyReport (the same fields). */
export interface PolicyReport extends KubeObject {
  apiVersion: string;
  kind: ReportApi['kind'];
  metadata: { name: string; namespace: string; labels: Record<string, string>; annotations: Record<string, string>; resourceVersion?: string };
  /** openreports.io only: the tool that wrote the report. */
  source?: string;
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: PolicyReportResult[];
}

/**
 * A policy that could not run → error; an exempted object → skip; else deny → fail, and warn and audit (a policy only
 * watching) → warn. The mode is kept in `properties.mode`, the exemption's reason in `properties.exemption`.
 */
export function resultOf(f: Pick<Finding, 'mode' | 'result'>): ReportResult {
  if (f.result) return f.result;
  return f.mode === 'deny' ? 'fail' : 'warn';
}

/** An empty report of `namespace` from the run at `at`, as `api` spells it. */
export function emptyReport(namespace: string, at: Date, api: ReportApi = OPENREPORTS): PolicyReport {
  return {
    apiVersion: apiVersionOf(api),
    kind: api.kind,
    metadata: { name: REPORT_NAME, namespace, labels: { [MANAGED_BY.key]: MANAGED_BY.value }, annotations: { [AUDITED_AT_ANNOTATION]: at.toISOString() } },
    ...(api === OPENREPORTS ? { source: REPORT_SOURCE } : {}),
    summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 },
    results: [],
  };
}

/** The same report in another report API (the fields are the same; only openreports.io has `source`). */
export function asApi(report: PolicyReport, api: ReportApi): PolicyReport {
  const { source: _source, ...rest } = report;
  return { ...rest, apiVersion: apiVersionOf(api), kind: api.kind, ...(api.group === OPENREPORTS.group ? { source: REPORT_SOURCE } : {}) };
}

const objectKey = (kind: string, namespace: string, name: string) => `${kind}|${namespace}|${name}`;

/**
 * One report per namespace that holds a checked object: a result per finding, and a `pass` result per checked object
 * without findings (policy `aigw-admission`: every policy passed). `now` is the run's time: every result and the
 * report's annotation carry it. Written as openreports.io; writeReports() turns them into the API the cluster serves.
 */
export function buildReports(findings: readonly Finding[], checked: readonly KubeObject[], now: Date): Map<string, PolicyReport> {
  const builder = new ReportBuilder(now);
  for (const f of findings) builder.finding(f);
  for (const o of checked) builder.checked(o);
  return builder.reports();
}

interface NamespaceResults {
  summary: PolicyReport['summary'];
  findings: PolicyReportResult[];
  /** At most MAX_RESULTS; cut to what the findings leave when the reports are made. */
  passes: PolicyReportResult[];
}

/**
 * The reports of buildReports(), built as the audit streams (an AuditSink): a finding's result when it comes, an
 * object's pass result when it was judged without findings (its findings come before it). What it holds is what the
 * reports will hold, never the findings or the objects themselves.
 */
export class ReportBuilder {
  private readonly timestamp: PolicyReportResult['timestamp'];
  private readonly withFindings = new Set<string>();
  /** Namespaces with findings in the order of their first finding, then the others in the order of their first pass. */
  private readonly byNamespace = new Map<string, NamespaceResults>();
  private readonly passOnly = new Map<string, NamespaceResults>();

  constructor(private readonly now: Date) {
    this.timestamp = { seconds: Math.floor(now.getTime() / 1000), nanos: 0 };
  }

  finding(f: Finding): void {
    const ns = f.resource.namespace;
    if (!ns) return; // cluster-scoped objects have no namespace report
    this.withFindings.add(objectKey(f.resource.kind, ns, f.resource.name));
    let entry = this.byNamespace.get(ns);
    if (!entry) {
      entry = this.passOnly.get(ns) ?? { summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 }, findings: [], passes: [] };
      this.passOnly.delete(ns);
      this.byNamespace.set(ns, entry);
    }
    const result = resultOf(f);
    entry.summary[result]++;
    entry.findings.push({
      source: REPORT_SOURCE,
      policy: f.policy,
      result,
      message: f.message,
      properties: { mode: f.mode, ...(f.path ? { path: f.path } : {}), ...(f.exemption ? { exemption: f.exemption } : {}) },
      resources: [{ ...f.resource }],
      timestamp: this.timestamp,
    });
  }

  checked(o: KubeObject): void {
    const ns = o.metadata?.namespace;
    const name = o.metadata?.name ?? '';
    if (!ns || this.withFindings.has(objectKey(String(o.kind), ns, name))) return;
    let entry = this.byNamespace.get(ns) ?? this.passOnly.get(ns);
    if (!entry) this.passOnly.set(ns, (entry = { summary: { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 }, findings: [], passes: [] }));
    entry.summary.pass++;
    if (entry.passes.length >= MAX_RESULTS) return;
    entry.passes.push({
      source: REPORT_SOURCE,
      policy: REPORT_SOURCE,
      result: 'pass',
      message: 'no findings',
      resources: [{ apiVersion: String(o.apiVersion), kind: String(o.kind), namespace: ns, name, ...(o.metadata?.uid ? { uid: o.metadata.uid } : {}) }],
      timestamp: this.timestamp,
    });
  }

  /** One report per namespace: its findings' results, then pass results up to MAX_RESULTS in all. */
  reports(): Map<string, PolicyReport> {
    const reports = new Map<string, PolicyReport>();
    for (const [ns, entry] of [...this.byNamespace, ...this.passOnly]) {
      const report = emptyReport(ns, this.now);
      report.summary = { ...entry.summary };
      report.results = [...entry.findings, ...entry.passes.slice(0, Math.max(0, MAX_RESULTS - entry.findings.length))];
      reports.set(ns, report);
    }
    return reports;
  }
}

/** The report calls the writer needs; `kubeReportClient` talks to the API server, tests can fake it. */
export interface ReportClient {
  /** The report API to write (the first served one of the configured choice); throws when none is served. */
  api(): Promise<ReportApi>;
  get(namespace: string, name: string): Promise<PolicyReport | undefined>;
  create(report: PolicyReport): Promise<void>;
  replace(report: PolicyReport): Promise<void>;
  /** Namespaces that hold a report of ours (owner label), in `namespace` only when given. */
  managedNamespaces(namespace?: string): Promise<string[]>;
}

export class ReportConflict extends Error {}

function code(err: unknown): number | undefined {
  const c = (err as { code?: unknown } | null)?.code;
  return typeof c === 'number' ? c : undefined;
}

/**
 * Reports through the API server, in the API the cluster serves: the choice's candidates are asked in order (a list of
 * one item; 404 means its CRD is not installed), once; the one found is logged. When none is served, each call fails
 * with the overlay to install, and the next run asks again.
 */
export function kubeReportClient(kc: KubeConfig, choice: ReportApiChoice = 'auto', logger?: Logger): ReportClient {
  const api = kc.makeApiClient(CustomObjectsApi);
  let found: ReportApi | undefined;
  const resolve = async (): Promise<ReportApi> => {
    if (found) return found;
    for (const candidate of REPORT_APIS[choice]) {
      try {
        await api.listClusterCustomObject({ group: candidate.group, version: candidate.version, plural: candidate.plural, limit: 1 });
      } catch (err) {
        if (code(err) === 404) continue;
        throw new Error(`list ${candidate.plural}.${candidate.group}: ${describeApiError(err)}`);
      }
      found = candidate;
      logger?.info(
        { event: 'report_api', apiVersion: apiVersionOf(candidate), kind: candidate.kind, choice },
        `writing ${apiVersionOf(candidate)} ${candidate.kind}s (audit.reports: ${choice})`,
      );
      return candidate;
    }
    const wanted = REPORT_APIS[choice].map((a) => `${apiVersionOf(a)} ${a.plural}`).join(' nor ');
    throw new AdmissionError(
      'CLUSTER_REQUEST_FAILED',
      `the cluster serves ${REPORT_APIS[choice].length > 1 ? 'neither ' : 'no '}${wanted}: install the report CRDs with kubectl apply -k ${REPORT_CRDS_OVERLAY} (or set audit.reports in the config to an API the cluster serves)`,
    );
  };
  const base = async () => {
    const a = await resolve();
    return { group: a.group, version: a.version, plural: a.plural };
  };
  const rethrow = (what: string) => (err: unknown): never => {
    if (code(err) === 409) throw new ReportConflict(`${what}: ${describeApiError(err)}`);
    throw new Error(`${what}: ${describeApiError(err)}`);
  };
  return {
    api: resolve,
    async get(namespace, name) {
      try {
        return (await api.getNamespacedCustomObject({ ...(await base()), namespace, name })) as PolicyReport;
      } catch (err) {
        if (code(err) === 404) return undefined;
        return rethrow(`GET ${found?.kind ?? 'report'} ${namespace}/${name}`)(err);
      }
    },
    async create(report) {
      await api
        .createNamespacedCustomObject({ ...(await base()), namespace: report.metadata.namespace, body: report })
        .catch(rethrow(`create ${report.kind} ${report.metadata.namespace}/${report.metadata.name}`));
    },
    async replace(report) {
      const { namespace, name } = report.metadata;
      await api.replaceNamespacedCustomObject({ ...(await base()), namespace, name, body: report }).catch(rethrow(`update ${report.kind} ${namespace}/${name}`));
    },
    async managedNamespaces(namespace) {
      const found = new Set<string>();
      let token: string | undefined;
      const b = await base();
      do {
        const args = { ...b, labelSelector: `${MANAGED_BY.key}=${MANAGED_BY.value}`, limit: 500, _continue: token };
        const page = (await (namespace === undefined ? api.listClusterCustomObject(args) : api.listNamespacedCustomObject({ ...args, namespace })).catch(
          rethrow(`list ${b.plural}.${b.group}`),
        )) as { items?: KubeObject[]; metadata?: { continue?: string } };
        for (const r of page.items ?? []) if (r.metadata?.namespace && r.metadata.name === REPORT_NAME) found.add(r.metadata.namespace);
        token = page.metadata?.continue || undefined;
      } while (token);
      return [...found];
    },
  };
}

export interface WriteSummary {
  /** The report API written. */
  api: ReportApi;
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
export async function writeReports(
  client: ReportClient,
  reports: ReadonlyMap<string, PolicyReport>,
  opts: { namespace?: string; at?: Date } = {},
): Promise<WriteSummary> {
  const api = await client.api();
  const summary: WriteSummary = { api, created: [], updated: [], emptied: [] };
  // A namespaced audit saw only part of other namespaces (the proxy pods of its Gateways): their reports stay as they are.
  const all = new Map([...reports].filter(([ns]) => opts.namespace === undefined || ns === opts.namespace).map(([ns, r]) => [ns, asApi(r, api)]));
  // An emptied report carries the run's time too (pass it: the time the findings were judged).
  const at = opts.at ?? new Date();
  for (const ns of await client.managedNamespaces(opts.namespace)) {
    if (!all.has(ns)) {
      all.set(ns, emptyReport(ns, at, api));
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
