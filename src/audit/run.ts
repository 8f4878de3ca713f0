/** The `audit` verb's work, apart from its flags and output: read the cluster, judge it, write the PolicyReports. */
import { VersionApi, type KubeConfig } from '../kube/client.js';
import { AdmissionError } from '../review/errors.js';
import type { PolicySet } from '../review/policy-set.js';
import { MemoryWorld, parseKubernetesMinor } from '../world/world.js';
import { describeApiError } from '../world/cluster-world.js';
import { makePageLister, type ListedKind } from '../world/list-page.js';
import { WORLD_KEYS } from '../kube/registry.js';
import { auditObjects, listCluster, type AuditResult } from './audit.js';
import { buildReports, kubeReportClient, writeReports, type WriteSummary } from './policy-report.js';

export interface AuditRunOptions {
  policies: PolicySet;
  /** Used when the cluster does not say its version. */
  kubernetesMinor: number | undefined;
  namespace?: string;
  writeReports?: boolean;
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
  const all = [...listed.objects.values()].flat();
  const result = auditObjects(
    all.filter((x) => x.kind !== 'Pod'),
    listed.objects.get(WORLD_KEYS.pod) ?? [],
    { policies: opts.policies, world: new MemoryWorld(all, { kubernetesMinor: minor }), kubernetesMinor: minor, now: opts.now },
  );
  let written: WriteSummary | undefined;
  if (opts.writeReports) {
    opts.onStep?.('writing-reports');
    written = await writeReports(kubeReportClient(kc), buildReports(result.findings, result.checked, opts.now()), { namespace: opts.namespace }).catch((err: Error) => {
      throw new AdmissionError('CLUSTER_REQUEST_FAILED', `PolicyReports not written: ${err.message}`);
    });
  }
  return { ...result, notInstalled: listed.notInstalled, written };
}
