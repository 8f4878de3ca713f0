import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { progressLine } from '../audit/progress.js';
import { loadKubeConfig, fail } from './common.js';
import { printFindings } from './findings.js';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description('evaluate the objects in the cluster and the ext_proc sidecar of its Envoy proxies; exit 1 when a finding is at mode deny')
    .option('--kubeconfig <file>', 'kubeconfig to find the cluster with (default: like kubectl)')
    .option('--namespace <ns>', "only this namespace's objects (and the proxy pods of its Gateways)")
    .option('--write-reports', 'write one wgpolicyk8s.io/v1alpha2 PolicyReport per namespace, updated in place')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action(async (o: { kubeconfig?: string; namespace?: string; writeReports?: boolean; output: 'table' | 'json' | 'yaml'; config?: string }) => {
      let progress: ReturnType<typeof progressLine> | undefined;
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const kc = await loadKubeConfig(o.kubeconfig);
        const { runAudit } = await import('../audit/run.js');
        progress = progressLine(process.stderr);
        const run = await runAudit(kc, {
          policies: holder.policies,
          kubernetesMinor: holder.config.kubernetesMinor,
          namespace: o.namespace,
          writeReports: o.writeReports,
          now: () => new Date(),
          onListed: (kind, n) => progress!.update(`listing ${kind.plural}: ${n}`),
          onStep: (step) => progress!.update(step === 'evaluating' ? 'evaluating…' : 'writing PolicyReports…'),
        });
        progress.clear();
        if (o.writeReports && o.namespace) {
          process.stderr.write(`note: with --namespace only the PolicyReport of ${o.namespace} is written; proxy pods elsewhere are printed, not reported\n`);
        }
        for (const k of run.notInstalled) process.stderr.write(`note: ${k} is not installed in the cluster (its CRD is missing): nothing of it was checked\n`);
        process.exitCode = printFindings({ findings: run.findings, objects: run.checked.length, notes: run.notes }, o.output);
        const written = run.written;
        if (written) {
          const parts = (['created', 'updated', 'emptied'] as const).filter((k) => written[k].length > 0).map((k) => `${k} in ${written[k].join(', ')}`);
          process.stderr.write(`PolicyReports ${parts.length > 0 ? parts.join('; ') : 'not needed: nothing checked'}\n`);
        }
      } catch (err) {
        progress?.clear();
        fail(err);
      }
    });
}
