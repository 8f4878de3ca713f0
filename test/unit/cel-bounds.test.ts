import { describe, expect, it } from 'vitest';
import { Environment } from '@marcbachmann/cel-js';
import { LlmCostCel } from '../../src/cel/cel.js';
import { estimateCost, SCALAR, unknownShape } from '../../src/cel/cost.js';
import { Lru } from '../../src/cel/lru.js';
import { CrdRules } from '../../src/crd/rules.js';
import { review } from '../../src/review/review.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { ALL_POLICIES } from '../../policies/index.js';
import type { SchemaNode } from '../../src/crd/schemas.js';
import { admissionReview, deps, route } from '../helpers.js';

const TEN = '[1u,2u,3u,4u,5u,6u,7u,8u,9u,10u]';
/** `levels` nested `map`s over ten-element lists: 10^levels steps, the shape of the route that held the loop for a minute. */
function nestedMaps(levels: number): string {
  let body = 'input_tokens';
  for (let i = 0; i < levels; i++) body = `${TEN}.map(x${i}, ${body})`;
  return `uint(${body}.size())`;
}

const costOf = (expression: string, variables = {}) =>
  estimateCost(new Environment({ unlistedVariablesAreDyn: true }).parse(expression).ast, variables, 100);

describe('CEL cost estimate (cel-go units)', () => {
  it.each([
    ['1', 0],
    ['a', 1],
    ['a.b.c', 3],
    ['[1, 2, 3]', 10],
    ['{"a": 1}', 30],
    ['[1, 2, 3].map(x, x * 2)', 10 + 3 * (1 + 1 + 12)],
    ['[1, 2, 3].all(x, x > 0)', 10 + 3 * (1 + 1 + 3)],
    ['"abcdefghij" + "abcdefghij"', 2],
  ])('%s costs %d', (expression, cost) => {
    expect(costOf(expression)).toBe(cost);
  });

  it('multiplies nested comprehensions by each range', () => {
    // Each level: the ten-element list (10), then ten steps of its body plus 12 (condition, append, list).
    expect(costOf(nestedMaps(2))).toBe(1532);
    expect(costOf(nestedMaps(7))).toBe(154_444_432);
  });

  it('sizes variables by their declared shape, and what is unknown by the bound', () => {
    expect(costOf('self.all(x, x == "a")', { self: { size: 1000, elem: { size: 5 } } })).toBe(1 + 1000 * (1 + 1 + 3));
    expect(costOf('self.all(x, x.all(y, true))', { self: unknownShape(100) })).toBe(1 + 100 * (1 + 100 * 3 + 3));
    expect(costOf('self.size()', { self: SCALAR })).toBe(2);
  });
});

describe('llmRequestCosts CEL bounds', () => {
  const cel = new LlmCostCel();

  it('refuses an expression over the per-expression budget without evaluating it, naming its cost', () => {
    expect(cel.problem(nestedMaps(7))).toBe('has an estimated cost of 154444432, over the budget of 100000 per expression');
    expect(cel.compile(nestedMaps(7))).not.toHaveProperty('program');
    expect(cel.problem(nestedMaps(3))).toBe(undefined);
  });

  it('caps length, nesting and entries before compiling', () => {
    expect(cel.problem(`input_tokens + ${'1u + '.repeat(1000)}1u`)).toBe('is 5017 characters long, over the limit of 4096');
    expect(cel.problem(`${'('.repeat(40)}input_tokens${')'.repeat(40)}`)).toBe('nests more than 32 levels deep, over the limit');
    expect(cel.problem(`uint([${'1,'.repeat(300)}1].size())`)).toBe('has a list literal of more than 256 elements, over the limit');
    expect(cel.problem(`uint({${Array.from({ length: 300 }, (_, i) => `${i}: 1`).join(', ')}}.size())`)).toBe(
      'has a map literal of more than 256 entries, over the limit',
    );
  });

  it('compiles each expression text once (bounded cache)', () => {
    const small = new LlmCostCel(undefined, 2);
    const first = small.compile('input_tokens + 1u');
    expect(small.compile('input_tokens + 1u')).toBe(first);
    small.compile('input_tokens + 2u');
    small.compile('input_tokens + 3u');
    expect(small.compile('input_tokens + 1u')).not.toBe(first);
  });

  it('denies the route that stalled the webhook, naming each expression and its cost', () => {
    const obj = route([{ name: 'chat', backendRefs: [{ name: 'a' }] }]);
    (obj.spec as Record<string, unknown>).llmRequestCosts = Array.from({ length: 20 }, (_, i) => ({ metadataKey: `k${i}`, type: 'CEL', cel: nestedMaps(7) }));
    const { verdict } = review(admissionReview(obj), 'validate', deps());
    const findings = verdict.findings.filter((f) => f.policy === 'llm-request-cost-cel');
    expect(findings).toHaveLength(20);
    expect(verdict.allowed).toBe(false);
    expect(findings[0]!.message).toBe(
      `CEL expression ${JSON.stringify(nestedMaps(7).slice(0, 60))}… (${nestedMaps(7).length} characters) (metadataKey "k0") has an estimated cost of 154444432, over the budget of 100000 per expression. ` +
        'The controller evaluates it on every request, so it must stay small: nest fewer comprehensions, use shorter lists (policy param maxCostPerExpression)',
    );
  });

  it('stops evaluating a route whose expressions together pass the per-route budget', () => {
    const obj = route([{ name: 'chat', backendRefs: [{ name: 'a' }] }]);
    const each = nestedMaps(4); // 154,432 each: 6 fit in 1,000,000, the seventh does not
    (obj.spec as Record<string, unknown>).llmRequestCosts = Array.from({ length: 8 }, (_, i) => ({ metadataKey: `k${i}`, type: 'CEL', cel: each }));
    const policies = new PolicySet(ALL_POLICIES, { 'llm-request-cost-cel': { params: { maxCostPerExpression: 1_000_000 } } });
    const { verdict } = review(admissionReview(obj), 'validate', deps({ policies }));
    expect(verdict.findings.filter((f) => f.policy === 'llm-request-cost-cel').map((f) => [f.path, f.message.replace(/^.*\) has/, 'has')])).toEqual([
      [
        'spec.llmRequestCosts[6].cel',
        "has an estimated cost of 154432, which brings the route's llmRequestCosts to 1081024, over the budget of 1000000 per route. The controller evaluates every one on each request; simplify or remove some (maxCostPerRoute)",
      ],
      [
        'spec.llmRequestCosts[7].cel',
        "has an estimated cost of 154432, which brings the route's llmRequestCosts to 1235456, over the budget of 1000000 per route. The controller evaluates every one on each request; simplify or remove some (maxCostPerRoute)",
      ],
    ]);
  });
});

describe('Lru', () => {
  it('evicts the least recently used entry past its capacity', () => {
    const lru = new Lru<string, number>(2);
    lru.set('a', 1);
    lru.set('b', 2);
    expect(lru.get('a')).toBe(1);
    lru.set('c', 3);
    expect([lru.has('a'), lru.has('b'), lru.has('c'), lru.size]).toEqual([true, false, true, 2]);
  });

  it('keeps the order right when the newest entry is hit again, and after a set of a key it already holds', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    expect([lru.get('c'), lru.get('c'), lru.get('a')]).toEqual([3, 3, 1]); // order: b, c, a
    lru.set('b', 20); // order: c, a, b
    lru.set('d', 4); // evicts c
    expect([lru.has('a'), lru.has('b'), lru.has('c'), lru.has('d')]).toEqual([true, true, false, true]);
    expect(lru.get('a')).toBe(1); // order: b, d, a
    lru.set('e', 5); // evicts b
    expect([lru.has('a'), lru.has('b'), lru.has('d'), lru.has('e'), lru.get('b')]).toEqual([true, false, true, true, undefined]);
  });
});

describe('CRD rule cost budgets', () => {
  const schema = (rule: string, maxItems?: number): SchemaNode => ({
    type: 'object',
    properties: {
      spec: {
        type: 'object',
        properties: { items: { type: 'array', ...(maxItems ? { maxItems } : {}), items: { type: 'array', items: { type: 'string', maxLength: 10 } } } },
        'x-kubernetes-validations': [{ rule, message: 'failed' }],
      },
    },
  });
  const object = { spec: { items: [['a', 'b'], ['c']] } };

  it('runs a rule within the per-call limit', () => {
    expect(new CrdRules().evaluate(schema('self.items.all(x, x.all(y, y != "z"))', 10), object)).toEqual({ findings: [], notes: [] });
  });

  it('does not run a rule over the per-call limit, and names it and its cost (unbounded lists are sized by the object)', () => {
    const rules = new CrdRules({ perCall: 100, perObject: 10_000 });
    expect(rules.evaluate(schema('self.items.all(x, x.all(y, y == "z"))', 10), object)).toEqual({
      findings: [],
      notes: ['CRD rule not checked (estimated cost 1842 is over the per-call limit of 100): self.items.all(x, x.all(y, y == "z"))'],
    });
  });

  it('stops at the per-object budget', () => {
    const rules = new CrdRules({ perCall: 10_000, perObject: 3_000 });
    const twice: SchemaNode = schema('self.items.all(x, x.all(y, y == "z"))', 10);
    twice.properties!.spec!['x-kubernetes-validations']!.push({ rule: 'self.items.exists(x, x.exists(y, y == "z"))', message: 'failed' });
    expect(rules.evaluate(twice, object)).toEqual({
      findings: [{ path: 'spec', message: 'Invalid value: "object": failed' }],
      notes: ["CRD rules not all checked: from spec on, the object's rules are estimated to cost more than the per-object budget of 3000"],
    });
  });
});
