import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expectGolden } from '../golden-file.js';

describe('golden files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aigw-golden-'));

  it('a missing golden file fails, and is not written, without UPDATE_GOLDEN=1', () => {
    const file = join(dir, 'missing.json');
    expect(() => expectGolden(file, '{}\n', {})).toThrow(/^missing golden file .*missing\.json: run npm run update-golden, review the file and commit it$/);
    expect(() => readFileSync(file)).toThrow('ENOENT');
  });

  it('a stale golden file fails, naming it', () => {
    const file = join(dir, 'stale.json');
    writeFileSync(file, '{"a":1}\n');
    expect(() => expectGolden(file, '{"a":2}\n', {})).toThrow(/stale\.json is stale: if the change is intended, run npm run update-golden/);
    expect(readFileSync(file, 'utf8')).toBe('{"a":1}\n');
  });

  it('UPDATE_GOLDEN=1 is the only writer', () => {
    const file = join(dir, 'sub', 'new.json');
    expectGolden(file, '{"b":1}\n', { UPDATE_GOLDEN: '1' });
    expect(readFileSync(file, 'utf8')).toBe('{"b":1}\n');
    expectGolden(file, '{"b":1}\n', {});
  });
});
