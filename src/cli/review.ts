import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { parseAdmissionReview } from '../review/parse.js';
import { review } from '../review/review.js';
import { MemoryWorld } from '../world/world.js';
import { silentLogger } from '../review/deps.js';
import { EXIT, readInput, fail } from './common.js';

export function registerReview(program: Command): void {
  program
    .command('review')
    .description('review one AdmissionReview file; exit 0 allowed, 1 denied, 2 bad input')
    .requiredOption('-f, --file <file>', 'AdmissionReview JSON (- for stdin)')
    .addOption(new Option('--mutate', 'run the mutating policies').conflicts('validate'))
    .addOption(new Option('--validate', 'run the validating policies (default)').conflicts('mutate'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action((o: { file: string; mutate?: boolean; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const input = parseAdmissionReview(readInput(o.file));
        const world = new MemoryWorld([], { kubernetesMinor: holder.config.kubernetesMinor });
        const { review: out } = review(input, o.mutate ? 'mutate' : 'validate', {
          policies: holder.policies,
          world,
          now: () => new Date(),
          logger: silentLogger,
        });
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = out.response.allowed ? EXIT.ok : EXIT.denied;
      } catch (err) {
        fail(err);
      }
    });
}
