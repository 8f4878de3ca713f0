import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { AdmissionError } from '../review/errors.js';
import { readInputs, readManifests, readNotes } from '../input/manifests.js';
import { FindingCounts, checkObjects } from '../check/check.js';
import { FAIL_ON, FINDING_FORMATS, consolidate, fails, findingChunks, summaryLine, writeChunks, type FailOn, type FindingFormat } from '../check/output.js';
import { CrdSchemas } from '../crd/schemas.js';
import { EXIT, examples, findKubeConfig, fail, userParseCache, userValidatorCache } from './common.js';
import { packageVersion } from './version.js';

/** The `-o` and `--fail-on` options every verb that prints findings shares. */
export function findingOutputOptions(command: Command): Command {
  return command
    .addOption(new Option('-o, --output <format>', 'output format (sarif: GitHub code scanning; junit: CI test reports)').choices(FINDING_FORMATS).default('table'))
    .addOption(new Option('--fail-on <mode>', 'which findings fail the run (exit 1)').choices(FAIL_ON).default('deny'));
}

/** The input options of check (and test): kubectl's -f, -R and -k. */
export function manifestInputOptions(command: Command): Command {
  return command
    .option('-f, --file <file...>', 'manifests (YAML or JSON, multi-document, kind: List), directories, - for stdin; together they are the whole world for cross-references')
    .option('-R, --recursive', 'read the subdirectories of -f directories too')
    .option('-k, --kustomize <dir...>', 'a kustomization directory, rendered with kubectl kustomize')
    .option('--skip-non-kubernetes', 'skip -f files that hold no Kubernetes object (as files found in directories are), e.g. the changed files a pre-commit hook passes')
    .option('--allow-empty', 'no Kubernetes object at all is a note and exit 0, not exit 2 (a pre-commit run on changes without manifests)');
}

export function registerCheck(program: Command): void {
  const command = program
    .command('check')
    .description('check manifests offline with every validating policy and, given CRDs, their schemas and rules; exit 1 when a finding is at mode deny (see --fail-on)');
  manifestInputOptions(command);
  findingOutputOptions(command)
    .option('--crds <dir...>', 'CustomResourceDefinitions to validate against (files or directories, as kubectl get crd -o yaml writes them)')
    .option('--kubeconfig <file>', 'without --crds, read the CRDs from this cluster (default: the cluster kubectl would use, if any)')
    .option('--offline', 'never contact a cluster, even to read CRDs')
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .addHelpText(
      'after',
      examples(
        'aigw-admission check -f routes.yaml --crds crds/',
        'aigw-admission check -R -f manifests/ --offline -o sarif > results.sarif',
        'aigw-admission check -k overlays/prod --fail-on warn -o junit > check.xml',
        'kustomize build . | aigw-admission check -f -',
      ),
    )
    .action(
      async (o: {
        file?: string[];
        recursive?: boolean;
        kustomize?: string[];
        skipNonKubernetes?: boolean;
        allowEmpty?: boolean;
        output: FindingFormat;
        failOn: FailOn;
        crds?: string[];
        kubeconfig?: string;
        offline?: boolean;
        config?: string;
      }) => {
        try {
          if (!o.file && !o.kustomize) throw new AdmissionError('INVALID_FLAG', 'no input: give -f FILE_OR_DIR (- for stdin) or -k KUSTOMIZATION_DIR');
          const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
          const cache = await userParseCache();
          const read = readInputs(o, { cache });
          for (const n of readNotes(read)) process.stderr.write(`note: ${n}\n`);
          const manifests = read.manifests;
          if (manifests.length === 0) {
            const what = [...(o.file ?? []).map((f) => (f === '-' ? '<stdin>' : f)), ...(o.kustomize ?? []).map((k) => `-k ${k}`)].join(' ');
            if (o.allowEmpty) {
              process.stderr.write(`note: ${what}: no Kubernetes objects found, nothing to check (--allow-empty)\n`);
              return;
            }
            throw new AdmissionError('INVALID_INPUT_FILE', `${what}: no Kubernetes objects found, so nothing was checked (an empty render or pipe fails rather than passing)`);
          }
          let crdObjects = [...(o.crds ? readManifests(o.crds, { recursive: true, cache }) : []), ...manifests].map((m) => m.object).filter((x) => x.kind === 'CustomResourceDefinition');
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
          const crds = crdObjects.length > 0 ? new CrdSchemas(crdObjects, { cache: await userValidatorCache() }) : undefined;
          if (!crds) process.stderr.write('note: no CRDs given (--crds DIR) or read from a cluster: objects are not checked against their CRD schema and rules\n');
          const result = checkObjects(manifests, {
            policies: holder.policies,
            crds,
            kubernetesMinor: holder.config.kubernetesMinor,
            now: () => new Date(),
          });
          for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
          const findings = consolidate(result.findings);
          await writeChunks(
            process.stdout,
            findingChunks(o.output, findings, {
              policies: ALL_POLICIES,
              version: packageVersion(),
              objects: result.objects,
              failOn: o.failOn,
              width: process.stdout.isTTY ? process.stdout.columns : undefined,
              cwd: process.cwd(),
            }),
          );
          if (o.output === 'table') process.stderr.write(`${summaryLine(FindingCounts.of(findings), result.objects, result.findings.length - findings.length)}\n`);
          process.exitCode = findings.some((f) => fails(f, o.failOn)) ? EXIT.denied : EXIT.ok;
        } catch (err) {
          fail(err);
        }
      },
    );
}
