import type { Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { fails, summaryLine, writeFindingBatches, type FailOn, type FindingFormat } from '../check/output.js';
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
        const { runAudit } = await import('../audit/run.js');
        const { apiVersionOf } = await import('../audit/policy-report.js');
        progress = progressLine(process.stderr);
        const audit = await runAudit(kc, {
          policies: holder.policies,
          kubernetesMinor: holder.config.kubernetesMinor,
          namespace: o.namespace,
          writeReports: o.writeReports,
          reports: holder.config.audit.reports,
          now: () => new Date(),
          onListed: (kind, n) => progress!.update(`listing ${kind.plural}: ${n}`),
        });
        if (o.writeReports && o.namespace) {
          progress.clear();
          process.stderr.write(`note: with --namespace only the report of ${o.namespace} is written; proxy pods elsewhere are printed, not reported\n`);
        }
        for (const k of audit.notInstalled) {
          progress.clear();
          process.stderr.write(`note: ${k} is not installed in the cluster (its CRD is missing): nothing of it was checked\n`);
        }
        // The findings are written as the audit judges each object (the table after a first pass for its widths):
        // 90,000 findings held to be printed at the end took three times the memory of the audit itself.
        let passes = 0;
        const ctx = { policies: ALL_POLICIES, version: packageVersion(), failOn: o.failOn, cwd: process.cwd(), width: process.stdout.isTTY ? process.stdout.columns : undefined };
        const written = await writeFindingBatches(
          process.stdout,
          o.output,
          ctx,
          function* () {
            const summary = yield* audit.judge();
            // Said once, as soon as known: before the table (after its first pass), after JSON and YAML.
            if (passes++ === 0) {
              progress!.clear();
              for (const n of summary.notes) process.stderr.write(`note: ${n}\n`);
            }
            return summary;
          },
          { onPass: (writes) => (writes ? progress!.clear() : progress!.update('evaluating…')) },
        );
        if (o.output === 'table') process.stderr.write(`${summaryLine(written.counts, written.objects, written.merged)}\n`);
        if (o.writeReports) progress.update('writing reports…');
        const reports = await audit.writeReports();
        progress.clear();
        if (reports) {
          const parts = (['created', 'updated', 'emptied'] as const).filter((k) => reports[k].length > 0).map((k) => `${k} in ${reports[k].join(', ')}`);
          process.stderr.write(`${apiVersionOf(reports.api)} ${reports.api.kind}s ${parts.length > 0 ? parts.join('; ') : 'not needed: nothing checked'}\n`);
        }
        process.exitCode = written.counts.count((f) => fails(f, o.failOn)) > 0 ? EXIT.denied : EXIT.ok;
      } catch (err) {
        progress?.clear();
        fail(err);
      }
    });
}
