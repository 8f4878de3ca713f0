/** The `audit` verb's work, apart from its flags and output: read the cluster, judge it, write the reports. */
import { VersionApi, type KubeConfig } from '../kube/client.js';
import { AdmissionError } from '../review/errors.js';
import type { PolicySet } from '../review/policy-set.js';
import type { ReportApiChoice } from '../config/config.js';
import { parseKubernetesMinor } from '../world/world.js';
import { describeApiError } from '../world/cluster-world.js';
import { makePageLister, type ListedKind } from '../world/list-page.js';
import { auditWorld, listCluster, listedWorld, type AuditResult } from './audit.js';
import { buildReports, kubeReportClient, writeReports, type WriteSummary } from './policy-report.js';

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

export interface AuditRun extends AuditResult {
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
  // The same audit as serve's background audit: one world, one moment for the findings and the reports.
  const at = opts.now();
  const result = auditWorld(listedWorld(listed, minor), { policies: opts.policies, kubernetesMinor: minor, now: () => at });
  let written: WriteSummary | undefined;
  if (opts.writeReports) {
    opts.onStep?.('writing-reports');
    const client = kubeReportClient(kc, opts.reports);
    written = await writeReports(client, buildReports(result.findings, result.checked, at), { namespace: opts.namespace, at }).catch((err: Error) => {
      throw err instanceof AdmissionError ? err : new AdmissionError('CLUSTER_REQUEST_FAILED', `reports not written: ${err.message}`);
    });
  }
  return { ...result, notInstalled: listed.notInstalled, written };
}
