/** The `audit` verb's work, apart from its flags and output: read the cluster, judge it, write the reports. */
import { VersionApi, type KubeConfig } from '../kube/client.js';
import { AdmissionError } from '../review/errors.js';
import type { PolicySet } from '../review/policy-set.js';
import type { ReportApiChoice } from '../config/config.js';
import { parseKubernetesMinor } from '../world/world.js';
import { describeApiError } from '../world/cluster-world.js';
import { makePageLister, type ListedKind } from '../world/list-page.js';
import type { Finding } from '../kube/types.js';
import { auditWorld, listCluster, listedWorld } from './audit.js';
import { ReportBuilder, kubeReportClient, writeReports, type WriteSummary } from './policy-report.js';

export interface AuditRunOptions {
  policies: PolicySet;
  /** Used when the cluster does not say its version. */
  kubernetesMinor: number | undefined;
  namespace?: string;
  writeReports?: boolean;
  /** Which report API to write (audit.reports in the config). */
  reports: ReportApiChoice;
  now: () => Date;
  onListed?: (kind: ListedKind, listed: number) => void;
  /** Called as the run moves on to judging, then to writing reports. */
  onStep?: (step: 'evaluating' | 'writing-reports') => void;
}

export interface AuditRun {
  /** Every finding, in the audit's order (what the CLI prints). */
  findings: Finding[];
  /** How many objects were judged. */
  objects: number;
  notes: string[];
  /** Kinds whose CRD is not installed: nothing of them was checked. */
  notInstalled: string[];
  /** What was written, with `writeReports`. */
  written: WriteSummary | undefined;
}

export async function runAudit(kc: KubeConfig, opts: AuditRunOptions): Promise<AuditRun> {
  const server = kc.getCurrentCluster()?.server ?? 'the cluster';
  let minor: number | undefined;
  try {
    minor = parseKubernetesMinor((await kc.makeApiClient(VersionApi).getCode()).minor) ?? opts.kubernetesMinor;
  } catch (err) {
    throw new AdmissionError('NO_CLUSTER', `cannot reach ${server}: ${describeApiError(err)}`);
  }
  const listed = await listCluster(makePageLister(kc), { namespace: opts.namespace, onProgress: opts.onListed });
  opts.onStep?.('evaluating');
  // The same audit as serve's background audit: one world, one moment for the findings and the reports. The reports
  // are built as the audit goes; the judged objects are not collected (the reports' pass results are made on the way).
  const at = opts.now();
  const findings: Finding[] = [];
  const reports = opts.writeReports ? new ReportBuilder(at) : undefined;
  const audit = auditWorld(
    listedWorld(listed, minor),
    { policies: opts.policies, kubernetesMinor: minor, now: () => at },
    {
      finding: (f) => {
        findings.push(f);
        reports?.finding(f);
      },
      checked: (o) => reports?.checked(o),
    },
  );
  let written: WriteSummary | undefined;
  if (reports) {
    opts.onStep?.('writing-reports');
    const client = kubeReportClient(kc, opts.reports);
    written = await writeReports(client, reports.reports(), { namespace: opts.namespace, at }).catch((err: Error) => {
      throw err instanceof AdmissionError ? err : new AdmissionError('CLUSTER_REQUEST_FAILED', `reports not written: ${err.message}`);
    });
  }
  return { findings, objects: audit.objects, notes: audit.notes, notInstalled: listed.notInstalled, written };
}
