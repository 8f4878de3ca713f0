import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { AdmissionError } from '../review/errors.js';
import { MemoryWorld, parseKubernetesMinor } from '../world/world.js';
import { formatFindingsTable, summarize } from '../check/check.js';
import { stringify as toYaml } from 'yaml';
import { progressLine } from '../audit/progress.js';
import { EXIT, loadKubeConfig, fail } from './common.js';

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
        const { VersionApi } = await import('@kubernetes/client-node');
        const { auditObjects, listCluster } = await import('../audit/audit.js');
        const { buildReports, kubeReportClient, writeReports } = await import('../audit/policy-report.js');
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
        const all = [...listed.objects.values()].flat();
        const pods = listed.objects.get('/Pod') ?? [];
        const result = auditObjects(
          all.filter((x) => x.kind !== 'Pod'),
          pods,
          { policies: holder.policies, world: new MemoryWorld(all, { kubernetesMinor: minor }), kubernetesMinor: minor, now: () => new Date() },
        );
        let written;
        if (o.writeReports) {
          progress.update('writing PolicyReports…');
          written = await writeReports(kubeReportClient(kc), buildReports(result.findings, result.checked, new Date()), { namespace: o.namespace }).catch((err: Error) => {
            throw new AdmissionError('CLUSTER_REQUEST_FAILED', `PolicyReports not written: ${err.message}`);
          });
        }
        progress.clear();
        if (o.writeReports && o.namespace) {
          process.stderr.write(`note: with --namespace only the PolicyReport of ${o.namespace} is written; proxy pods elsewhere are printed, not reported\n`);
        }
        for (const k of listed.notInstalled) process.stderr.write(`note: ${k} is not installed in the cluster (its CRD is missing): nothing of it was checked\n`);
        for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
        if (o.output === 'json') process.stdout.write(`${JSON.stringify(result.findings, null, 2)}\n`);
        else if (o.output === 'yaml') process.stdout.write(toYaml(result.findings, { lineWidth: 0, aliasDuplicateObjects: false }));
        else if (result.findings.length > 0) {
          process.stdout.write(formatFindingsTable(result.findings, process.stdout.isTTY ? process.stdout.columns : undefined));
        }
        if (o.output === 'table') process.stderr.write(`${summarize({ findings: result.findings, objects: result.checked.length, notes: result.notes })}\n`);
        if (written) {
          const parts = (['created', 'updated', 'emptied'] as const).filter((k) => written[k].length > 0).map((k) => `${k} in ${written[k].join(', ')}`);
          process.stderr.write(`PolicyReports ${parts.length > 0 ? parts.join('; ') : 'not needed: nothing checked'}\n`);
        }
        process.exitCode = result.findings.some((f) => f.mode === 'deny') ? EXIT.denied : EXIT.ok;
      } catch (err) {
        progress?.clear();
        fail(err);
      }
    });
}
