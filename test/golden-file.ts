/** Golden files: only UPDATE_GOLDEN=1 writes them; a missing or stale one fails. */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, relative } from 'node:path';
import { expect } from 'vitest';
import { ROOT } from './helpers.js';

export const UPDATING_GOLDEN = process.env.UPDATE_GOLDEN === '1';

/** `text` must equal the golden file; with UPDATE_GOLDEN=1 the file is (re)written instead. */
export function expectGolden(file: string, text: string, env: NodeJS.ProcessEnv = process.env): void {
  const name = relative(ROOT, file);
  if (env.UPDATE_GOLDEN === '1') {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, text);
    return;
  }
  if (!existsSync(file)) throw new Error(`missing golden file ${name}: run npm run update-golden, review the file and commit it`);
  expect(text, `${name} is stale: if the change is intended, run npm run update-golden and review the diff`).toBe(readFileSync(file, 'utf8'));
}
