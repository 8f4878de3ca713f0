/** `aigw-admission vap`: print the ValidatingAdmissionPolicies of the checks CEL can state exactly. */
import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { fail } from './common.js';
import { generateVaps, missingVaps, renderMissing, renderVapYaml } from '../vap/generate.js';

export function registerVap(program: Command): void {
  program
    .command('vap')
    .description(
      'print a ValidatingAdmissionPolicy and binding (Kubernetes 1.30+) for every check CEL can state exactly, with the modes of --config; the API server then enforces them without the webhook',
    )
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--explain-missing', 'instead, list the policies without a CEL form and why')
    .action((o: { config?: string; output: 'yaml' | 'json'; explainMissing?: boolean }) => {
      try {
        if (o.explainMissing) {
          const missing = missingVaps(ALL_POLICIES);
          process.stdout.write(o.output === 'json' ? `${JSON.stringify(missing, null, 2)}\n` : renderMissing(missing));
          return;
        }
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const objects = generateVaps(holder.policies);
        process.stdout.write(
          o.output === 'json' ? `${JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2)}\n` : renderVapYaml(objects),
        );
      } catch (err) {
        fail(err);
      }
    });
}
