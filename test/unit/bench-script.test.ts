import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

const BUILD = 'npm run build && ';

describe('npm run bench', () => {
  it('hands the arguments given to `npm run bench -- …` to the bench, not only to its last command', () => {
    const script = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts.bench!;
    expect(script.startsWith(BUILD)).toBe(true);
    // npm appends the arguments to the script's text: after the build there must be one command, the one reading them.
    const afterBuild = script.slice(BUILD.length);
    expect(afterBuild).not.toMatch(/&&|;|\|/);
    // What npm runs for `npm run bench -- --runs 1`, without the build (npm test has built dist/): refused at once.
    const r = spawnSync('sh', ['-c', `${afterBuild} --runs 1`], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stderr).toBe('bench: --runs 1: every figure is a median of at least 3 runs\n');
    expect(r.status).toBe(2);
  });
});
