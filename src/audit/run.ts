/** The `audit` verb's work, apart from its flags and output: read the cluster, judge it, write the reports. */
import { VersionApi, type KubeConfig } from '../kube/client.js';
import { AdmissionError } from '../review/errors.js';
import type { PolicySet } from '../review/policy-set.js';
import type { ReportApiChoice } from '../config/config.js';
import { parseKubernetesMinor } from '../world/world.js';
import { describeApiError } from '../world/cluster-world.js';
import { makePageLister, type ListedKind } from '../world/list-page.js';
import type { Finding } from '../kube/types.js';
import { auditBatches, listCluster, listedWorld, type AuditSummary } from './audit.js';
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
}

/** A cluster listed for the audit: judge it (one pass or more), then write the reports. */
export interface ClusterAudit {
  /** Kinds whose CRD is not installed: nothing of them was checked. */
  notInstalled: string[];
  /**
   * One pass of the audit over what was listed (`auditBatches`): the findings of one object at a time, in the audit's
   * order, none kept here. Every call judges again, the same world at the same moment, so gives the same findings (the
   * table is laid out in a first pass and written in a second). With `writeReports`, the first pass builds the reports.
   */
  judge(): Generator<Finding[], AuditSummary>;
  /** With `writeReports`, writes the reports the first pass built (it must have run to its end); else does nothing. */
  writeReports(): Promise<WriteSummary | undefined>;
}

/** Lists the cluster (the objects slimmed as serve's cache slims them); the audit itself runs as the caller asks. */
export async function runAudit(kc: KubeConfig, opts: AuditRunOptions): Promise<ClusterAudit> {
  const server = kc.getCurrentCluster()?.server ?? 'the cluster';
  let minor: number | undefined;
  try {
    minor = parseKubernetesMinor((await kc.makeApiClient(VersionApi).getCode()).minor) ?? opts.kubernetesMinor;
  } catch (err) {
    throw new AdmissionError('NO_CLUSTER', `cannot reach ${server}: ${describeApiError(err)}`);
  }
  const listed = await listCluster(makePageLister(kc), { namespace: opts.namespace, onProgress: opts.onListed });
  // The same audit as serve's background audit: one world, one moment for the findings and the reports. The reports
  // are built as the first pass goes; the judged objects are not collected (the reports' pass results are made on the way).
  const at = opts.now();
  const world = listedWorld(listed, minor);
  const auditOpts = { policies: opts.policies, kubernetesMinor: minor, now: () => at };
  const reports = opts.writeReports ? new ReportBuilder(at) : undefined;
  let passes = 0;
  let reportsBuilt = false;
  return {
    notInstalled: listed.notInstalled,
    *judge() {
      const building = passes++ === 0 ? reports : undefined;
      const summary = yield* auditBatches(world, auditOpts, building);
      if (building) reportsBuilt = true;
      return summary;
    },
    async writeReports() {
      if (!reports) return undefined;
      if (!reportsBuilt) throw new Error('internal: the reports are written after a whole pass of the audit');
      const client = kubeReportClient(kc, opts.reports);
      return writeReports(client, reports.reports(), { namespace: opts.namespace, at }).catch((err: Error) => {
        throw err instanceof AdmissionError ? err : new AdmissionError('CLUSTER_REQUEST_FAILED', `reports not written: ${err.message}`);
      });
    },
  };
}
