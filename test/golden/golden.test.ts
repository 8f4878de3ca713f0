/** Whole AdmissionReview in/out pairs. Regenerate on purpose only: npm run update-golden (a missing or stale file fails). */
import { describe, expect, it } from 'vitest';
import { basename, join } from 'node:path';
import { ROOT, deps, fallingOverWorld, listFiles, readJson } from '../helpers.js';
import { expectGolden } from '../golden-file.js';
import { review } from '../../src/review/review.js';
import { parseAdmissionReview } from '../../src/review/parse.js';

const inputs = listFiles(join(ROOT, 'test/fixtures/admission-reviews'), '.json');

describe('golden AdmissionReviews', () => {
  it.each(inputs.flatMap((f) => (['validate', 'mutate'] as const).map((e) => [basename(f, '.json'), e, f] as const)))('%s on /%s', (name, endpoint, file) => {
    const out = `${JSON.stringify(review(parseAdmissionReview(readJson(file)), endpoint, deps({ world: fallingOverWorld() })).review, null, 2)}\n`;
    const golden = join(ROOT, 'test/golden', `${name}.${endpoint}.json`);
    expectGolden(golden, out);
  });

  it('every golden file belongs to an input (a leftover one would pass for a test that no longer runs)', () => {
    const expected = inputs.flatMap((f) => ['validate', 'mutate'].map((e) => `${basename(f, '.json')}.${e}.json`)).sort();
    expect(listFiles(join(ROOT, 'test/golden'), '.json').map((f) => basename(f))).toEqual(expected);
  });
});
