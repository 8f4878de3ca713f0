import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { keepYoungGenerationSmall } from '../../src/cli/batch-heap.js';
import { ROOT } from '../helpers.js';

const BATCH_HEAP = pathToFileURL(join(ROOT, 'dist/src/cli/batch-heap.js')).href;

/** A fresh node (the flag changes the process it runs in), which keeps 300,000 small objects and reports its young generation. */
function youngGenerationAfterAllocating(nodeArgs: string[]): { applied: boolean; newSpaceBytes: number; kept: number } {
  const script = `
    import { keepYoungGenerationSmall } from ${JSON.stringify(BATCH_HEAP)};
    import { getHeapSpaceStatistics } from 'node:v8';
    const applied = keepYoungGenerationSmall(process.execArgv, undefined);
    const kept = [];
    for (let i = 0; i < 300000; i++) kept.push({ i, s: 'x' + i });
    const newSpaceBytes = getHeapSpaceStatistics().find((s) => s.space_name === 'new_space').space_size;
    console.log(JSON.stringify({ applied, newSpaceBytes, kept: kept.length }));`;
  const run = spawnSync(process.execPath, [...nodeArgs, '--input-type=module', '-e', script], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } });
  expect(run.stderr).toBe('');
  return JSON.parse(run.stdout) as { applied: boolean; newSpaceBytes: number; kept: number };
}

describe('keepYoungGenerationSmall (the audit, src/cli.ts)', () => {
  it('keeps the young generation at its starting two 1 MB semi-spaces while objects pile up', () => {
    expect(youngGenerationAfterAllocating([])).toEqual({ applied: true, newSpaceBytes: 2 * 1024 * 1024, kept: 300000 });
  });

  it('leaves a semi-space size the user gave alone, and the young generation grows to it', () => {
    expect(youngGenerationAfterAllocating(['--max-semi-space-size=16'])).toEqual({ applied: false, newSpaceBytes: 2 * 16 * 1024 * 1024, kept: 300000 });
  });

  it('reads the user semi-space flags from execArgv and NODE_OPTIONS, in either spelling', () => {
    // Only the refusals: applying it would change this test process's heap.
    expect(keepYoungGenerationSmall(['--max_semi_space_size=8'], undefined)).toBe(false);
    expect(keepYoungGenerationSmall([], '--inspect --max-semi-space-size=4')).toBe(false);
    expect(keepYoungGenerationSmall(['--semi-space-growth-factor=2'], '')).toBe(false);
    expect(keepYoungGenerationSmall(['--min-semi-space-size=2'], undefined)).toBe(false);
  });
});
