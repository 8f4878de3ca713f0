import { readFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';

const HERE = dirname(fileURLToPath(import.meta.url));
/** The repository: this file runs from dist/bench (npm run bench) or from bench/ (the tests). */
const ROOT = basename(dirname(HERE)) === 'dist' ? resolve(HERE, '..', '..') : resolve(HERE, '..');

/**
 * The NODE_OPTIONS the Deployment gives serve (deploy/base/deployment.yaml): every server the bench starts, ours and the
 * baselines, runs with them, so the figures are those of the webhook as deployed.
 */
export const DEPLOYED_NODE_OPTIONS: string = (() => {
  const deployment = parseYaml(readFileSync(join(ROOT, 'deploy', 'base', 'deployment.yaml'), 'utf8')) as {
    spec?: { template?: { spec?: { containers?: Array<{ env?: Array<{ name: string; value?: string }> }> } } };
  };
  const env = deployment.spec?.template?.spec?.containers?.[0]?.env ?? [];
  return env.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
})();
