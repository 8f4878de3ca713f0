/** `npm run gen:deploy`: rewrite the generated manifests in deploy/ from the policies' declarations and the kind registry. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { generatedDeployFiles } from './webhook-rules.js';
import { generatedRbacFiles } from './rbac.js';
import { VAP_OVERLAY_FILE, vapOverlayFile } from './vap-overlay.js';

const dir = process.argv[2] ?? 'deploy';
const files = {
  ...Object.fromEntries(Object.entries(generatedDeployFiles(ALL_POLICIES)).map(([f, c]) => [join('base', f), c])),
  ...generatedRbacFiles(),
  [join('overlays', 'vap', VAP_OVERLAY_FILE)]: vapOverlayFile(ALL_POLICIES, readFileSync(join(dir, 'base', 'config.yaml'), 'utf8')),
};
for (const [file, content] of Object.entries(files)) {
  writeFileSync(join(dir, file), content);
  process.stdout.write(`wrote ${join(dir, file)}
`);
}
