import type { Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { AdmissionError } from '../review/errors.js';
import { parseKubernetesMinor } from '../world/world.js';
import { consolidate, fails, renderFindings, summaryLine, type FailOn, type FindingFormat } from '../check/output.js';
import { findingOutputOptions } from './check.js';
import { packageVersion } from './version.js';
import { progressLine } from '../audit/progress.js';
import { EXIT, examples, loadKubeConfig, fail } from './common.js';

export function registerAudit(program: Command): void {
  const command = program
    .command('audit')
    .description('evaluate the objects in the cluster and the ext_proc sidecar of its Envoy proxies; exit 1 when a finding is at mode deny (see --fail-on)')
    .option('--kubeconfig <file>', 'kubeconfig to find the cluster with (default: like kubectl)')
    .option('--namespace <ns>', "only this namespace's objects (and the proxy pods of its Gateways)")
    .option('--write-reports', 'write one report per namespace, updated in place: an openreports.io/v1alpha1 Report, or a wgpolicyk8s.io/v1alpha2 PolicyReport (audit.reports in the config; auto: what the cluster serves)');
  findingOutputOptions(command)
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .addHelpText('after', examples('aigw-admission audit', 'aigw-admission audit --namespace team-a -o json', 'aigw-admission audit --write-reports --fail-on never'))
    .action(async (o: { kubeconfig?: string; namespace?: string; writeReports?: boolean; output: FindingFormat; failOn: FailOn; config?: string }) => {
      let progress: ReturnType<typeof progressLine> | undefined;
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const kc = await loadKubeConfig(o.kubeconfig);
        const { VersionApi } = await import('@kubernetes/client-node');
        const { auditWorld, listCluster, listedWorld } = await import('../audit/audit.js');
        const { apiVersionOf, buildReports, kubeReportClient, writeReports } = await import('../audit/policy-report.js');
        const { makePageLister } = await import('../world/list-page.js');
        const { describeApiError } = await import('../world/cluster-world.js');
        const server = kc.getCurrentCluster()?.server ?? 'the cluster';
        progress = progressLine(process.stderr);
        let minor: number | undefined;
        try {
          minor = parseKubernetesMinor((await kc.makeApiClient(VersionApi).getCode()).minor) ?? holder.config.kubernetesMinor;
        } catch (err) {
          throw new AdmissionError('NO_CLUSTER', `cannot reach ${server}: ${describeApiError(err)}`);
        }
        const listed = await listCluster(makePageLister(kc), {
          namespace: o.namespace,
          onProgress: (kind, n) => progress!.update(`listing ${kind.plural}: ${n}`),
        });
        progress.update('evaluating…');
        // The same audit as serve's background audit: one world, one moment for the findings and the reports.
        const at = new Date();
        const result = auditWorld(listedWorld(listed, minor), { policies: holder.policies, kubernetesMinor: minor, now: () => at });
        let written;
        if (o.writeReports) {
          progress.update('writing reports…');
          const client = kubeReportClient(kc, holder.config.audit.reports);
          written = await writeReports(client, buildReports(result.findings, result.checked, at), { namespace: o.namespace, at }).catch((err: Error) => {
            throw err instanceof AdmissionError ? err : new AdmissionError('CLUSTER_REQUEST_FAILED', `reports not written: ${err.message}`);
          });
        }
        progress.clear();
        if (o.writeReports && o.namespace) {
          process.stderr.write(`note: with --namespace only the report of ${o.namespace} is written; proxy pods elsewhere are printed, not reported\n`);
        }
        for (const k of listed.notInstalled) process.stderr.write(`note: ${k} is not installed in the cluster (its CRD is missing): nothing of it was checked\n`);
        for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
        const findings = consolidate(result.findings);
        const ctx = { policies: ALL_POLICIES, version: packageVersion(), objects: result.checked.length, failOn: o.failOn, cwd: process.cwd() };
        process.stdout.write(renderFindings(o.output, findings, { ...ctx, width: process.stdout.isTTY ? process.stdout.columns : undefined }));
        if (o.output === 'table') process.stderr.write(`${summaryLine(findings, result.checked.length, result.findings.length - findings.length)}\n`);
        if (written) {
          const parts = (['created', 'updated', 'emptied'] as const).filter((k) => written[k].length > 0).map((k) => `${k} in ${written[k].join(', ')}`);
          process.stderr.write(`${apiVersionOf(written.api)} ${written.api.kind}s ${parts.length > 0 ? parts.join('; ') : 'not needed: nothing checked'}\n`);
        }
        process.exitCode = findings.some((f) => fails(f, o.failOn)) ? EXIT.denied : EXIT.ok;
      } catch (err) {
        progress?.clear();
        fail(err);
      }
    });
}
