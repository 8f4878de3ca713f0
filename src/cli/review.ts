import { Option, type Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { stringify as toYaml } from 'yaml';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { parseAdmissionReview } from '../review/parse.js';
import { review } from '../review/review.js';
import { AdmissionError } from '../review/errors.js';
import { MemoryWorld } from '../world/world.js';
import { silentLogger } from '../review/deps.js';
import { placed } from '../check/check.js';
import { reviewFor } from '../kube/request.js';
import { readManifests } from '../input/manifests.js';
import type { AdmissionReviewRequest, KubeObject } from '../kube/types.js';
import { EXIT, examples, readInput, fail } from './common.js';

/**
 * The input of `review`: an AdmissionReview (JSON or YAML), or a Kubernetes object, which is reviewed as the API server
 * would send its dry-run CREATE.
 */
function reviewInput(text: string, file: string): AdmissionReviewRequest {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    try {
      value = parseYaml(text, { maxAliasCount: 100 });
    } catch (err) {
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}: neither JSON nor YAML: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  const object = value as KubeObject | null;
  if (object && typeof object === 'object' && object.kind !== 'AdmissionReview' && typeof object.apiVersion === 'string' && typeof object.kind === 'string') {
    const obj = placed(object);
    return reviewFor(obj, 'CREATE', { uid: 'review-0', namespace: obj.metadata?.namespace, dryRun: true });
  }
  return parseAdmissionReview(value);
}

export function registerReview(program: Command): void {
  program
    .command('review')
    .description('review one AdmissionReview (or one object, as its dry-run CREATE) like the webhook; exit 0 allowed, 1 denied, 2 bad input')
    .requiredOption('-f, --file <file>', 'an AdmissionReview or a Kubernetes object, JSON or YAML (- for stdin)')
    .addOption(new Option('--mutate', 'run the mutating policies').conflicts('validate'))
    .addOption(new Option('--validate', 'run the validating policies (default)').conflicts('mutate'))
    .option('--world <file...>', 'objects the policies may look up (routes, BackendTrafficPolicies, …): files or directories')
    .addOption(new Option('-o, --output <format>', 'json|yaml: the AdmissionReview response; patch: the decoded JSON Patch').choices(['json', 'yaml', 'patch']).default('json'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .addHelpText(
      'after',
      examples(
        'aigw-admission review -f admission-review.json',
        'aigw-admission review -f route.yaml --world backends/ retry.yaml',
        'aigw-admission review --mutate -f route.yaml -o patch',
      ),
    )
    .action((o: { file: string; mutate?: boolean; world?: string[]; output: 'json' | 'yaml' | 'patch'; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const input = reviewInput(readInput(o.file), o.file === '-' ? '<stdin>' : o.file);
        const worldObjects = o.world ? readManifests(o.world).map((m) => placed(m.object)) : [];
        const world = new MemoryWorld(worldObjects, { kubernetesMinor: holder.config.kubernetesMinor });
        const { review: out } = review(input, o.mutate ? 'mutate' : 'validate', {
          policies: holder.policies,
          world,
          now: () => new Date(),
          logger: silentLogger,
        });
        if (o.output === 'patch') {
          const patch = out.response.patch ? (JSON.parse(Buffer.from(out.response.patch, 'base64').toString('utf8')) as unknown[]) : [];
          process.stdout.write(`${JSON.stringify(patch, null, 2)}\n`);
          for (const w of out.response.warnings ?? []) process.stderr.write(`Warning: ${w}\n`);
          if (!out.response.allowed) process.stderr.write(`denied: ${out.response.status?.message}\n`);
        } else if (o.output === 'yaml') process.stdout.write(toYaml(out, { lineWidth: 0 }));
        else process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = out.response.allowed ? EXIT.ok : EXIT.denied;
      } catch (err) {
        fail(err);
      }
    });
}
