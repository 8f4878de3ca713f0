/** `npm run gen:deploy`: rewrite the generated manifests in deploy/ from the policies' declarations. */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { generatedDeployFiles } from './webhook-rules.js';
import { VAP_OVERLAY_FILE, vapOverlayFile } from './vap-overlay.js';

const dir = process.argv[2] ?? 'deploy/base';
const write = (path: string, content: string) => {
  writeFileSync(path, content);
  process.stdout.write(`wrote ${path}\n`);
};
for (const [file, content] of Object.entries(generatedDeployFiles(ALL_POLICIES))) write(join(dir, file), content);
write(join(dirname(dir), 'overlays/vap', VAP_OVERLAY_FILE), vapOverlayFile(ALL_POLICIES, readFileSync(join(dir, 'config.yaml'), 'utf8')));
