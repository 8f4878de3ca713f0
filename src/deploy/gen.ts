/** `npm run gen:deploy`: rewrite the generated manifests in deploy/ from the policies' declarations. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { generatedDeployFiles } from './webhook-rules.js';

const dir = process.argv[2] ?? 'deploy/base';
for (const [file, content] of Object.entries(generatedDeployFiles(ALL_POLICIES))) {
  writeFileSync(join(dir, file), content);
  process.stdout.write(`wrote ${join(dir, file)}\n`);
}
