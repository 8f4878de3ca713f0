import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { readManifests } from '../input/manifests.js';
import { checkObjects, formatFindingsTable, specFindings, summarize } from '../check/check.js';
import { CrdSchemas } from '../crd/schemas.js';
import { stringify as toYaml } from 'yaml';
import { EXIT, findKubeConfig, fail } from './common.js';

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('check manifests offline with every validating policy and, given CRDs, their schemas and rules; exit 1 when a finding is at mode deny')
    .requiredOption('-f, --file <file...>', 'manifests (YAML or JSON, multi-document, kind: List, directories, - for stdin); together they are the whole world for cross-references')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--crds <dir...>', 'CustomResourceDefinitions to validate against (files or directories, as kubectl get crd -o yaml writes them)')
    .option('--kubeconfig <file>', 'without --crds, read the CRDs from this cluster (default: the cluster kubectl would use, if any)')
    .option('--offline', 'never contact a cluster, even to read CRDs')
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action(async (o: { file: string[]; output: 'table' | 'json' | 'yaml'; crds?: string[]; kubeconfig?: string; offline?: boolean; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const manifests = readManifests(o.file);
        let crdObjects = [...(o.crds ? readManifests(o.crds) : []), ...manifests].map((m) => m.object).filter((x) => x.kind === 'CustomResourceDefinition');
        if (crdObjects.length === 0 && !o.offline) {
          // The installed CRDs are the schema the API server will apply: read them when there is a cluster.
          const kc = await findKubeConfig(o.kubeconfig);
          if (kc) {
            const { makePageLister } = await import('../world/list-page.js');
            const { clusterCrds } = await import('../crd/cluster.js');
            const server = kc.getCurrentCluster()?.server;
            try {
              crdObjects = await clusterCrds(makePageLister(kc));
              process.stderr.write(`note: ${crdObjects.length} CRDs read from the cluster at ${server}\n`);
            } catch (err) {
              const { describeApiError } = await import('../world/cluster-world.js');
              process.stderr.write(`note: could not read the CRDs from the cluster at ${server} (${describeApiError(err)}); pass --crds DIR or --offline\n`);
            }
          }
        }
        const crds = crdObjects.length > 0 ? new CrdSchemas(crdObjects) : undefined;
        if (!crds) process.stderr.write('note: no CRDs given (--crds DIR) or read from a cluster: objects are not checked against their CRD schema and rules\n');
        const result = checkObjects(manifests, {
          policies: holder.policies,
          crds,
          kubernetesMinor: holder.config.kubernetesMinor,
          now: () => new Date(),
        });
        for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
        if (o.output === 'json') process.stdout.write(`${JSON.stringify(specFindings(result.findings), null, 2)}\n`);
        else if (o.output === 'yaml') process.stdout.write(toYaml(specFindings(result.findings), { lineWidth: 0, aliasDuplicateObjects: false }));
        else if (result.findings.length > 0) {
          process.stdout.write(formatFindingsTable(result.findings, process.stdout.isTTY ? process.stdout.columns : undefined));
        }
        if (o.output === 'table') process.stderr.write(`${summarize(result)}\n`);
        process.exitCode = result.findings.some((f) => f.mode === 'deny') ? EXIT.denied : EXIT.ok;
      } catch (err) {
        fail(err);
      }
    });
}
