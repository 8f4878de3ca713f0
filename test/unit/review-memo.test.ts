import { describe, expect, it } from 'vitest';
import { definePolicy } from '../../src/review/policy.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { review } from '../../src/review/review.js';
import { AIGATEWAYROUTE } from '../../src/model/kinds.js';
import { admissionReview, deps, route } from '../helpers.js';

describe('the per-review memo policies share', () => {
  it('computes once per key within a review, again in the next review, and separately per scope and key', () => {
    const computed: string[] = [];
    const reader = (id: string) =>
      definePolicy({
        id,
        description: 'reads the shared model',
        endpoint: 'validate',
        match: { kinds: [AIGATEWAYROUTE], operations: ['CREATE'] },
        defaultMode: 'warn',
        onError: 'allow-with-warning',
        paramsSchema: {},
        defaultParams: {},
        evaluate({ object, memo }) {
          const model = memo!('model', object!, () => (computed.push(`model of ${object!.metadata!.name}`), { rules: 1 }));
          const other = memo!('other', object!, () => (computed.push('other'), 2));
          return { findings: [{ path: '', message: `${id} saw ${model.rules + other}` }] };
        },
      });
    const d = deps({ policies: new PolicySet([reader('a'), reader('b'), reader('c')]) });

    const first = review(admissionReview(route([], 'one')), 'validate', d);
    expect(computed).toEqual(['model of one', 'other']);
    expect(first.review.response.warnings).toEqual(['[a] a saw 3', '[b] b saw 3', '[c] c saw 3']);

    review(admissionReview(route([], 'two')), 'validate', d);
    expect(computed).toEqual(['model of one', 'other', 'model of two', 'other']);
  });
});
