/** Whole AdmissionReview in/out pairs. Regenerate on purpose only: UPDATE_GOLDEN=1 npx vitest run test/golden */
import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ROOT, deps, fallingOverWorld, listFiles, readJson } from '../helpers.js';
import { review } from '../../src/review/review.js';
import { parseAdmissionReview } from '../../src/review/parse.js';

const inputs = listFiles(join(ROOT, 'test/fixtures/admission-reviews'), '.json');

describe('golden AdmissionReviews', () => {
  it.each(inputs.flatMap((f) => (['validate', 'mutate'] as const).map((e) => [basename(f, '.json'), e, f] as const)))('%s on /%s', (name, endpoint, file) => {
    const out = `${JSON.stringify(review(parseAdmissionReview(readJson(file)), endpoint, deps({ world: fallingOverWorld() })).review, null, 2)}\n`;
    const golden = join(ROOT, 'test/golden', `${name}.${endpoint}.json`);
    if (process.env.UPDATE_GOLDEN === '1' || !existsSync(golden)) {
      if (process.env.CI && !existsSync(golden)) throw new Error(`missing golden file ${golden}: run UPDATE_GOLDEN=1 npx vitest run test/golden and commit it`);
      writeFileSync(golden, out);
    }
    expect(out).toBe(readFileSync(golden, 'utf8'));
  });
});
