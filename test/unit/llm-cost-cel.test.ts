import { describe, expect, it } from 'vitest';
import { LlmCostCel } from '../../src/cel/cel.js';
import { review } from '../../src/review/review.js';
import { admissionReview, deps, route } from '../helpers.js';

describe('llmRequestCosts CEL, checked as the controller does', () => {
  const cel = new LlmCostCel();
  it.each([
    ['input_tokens + output_tokens', undefined],
    ["model == 'cool_model' ? (input_tokens - cached_input_tokens) * output_tokens : total_tokens", undefined],
    ['input_tokens == uint(3) ? 100000000 : 0', undefined],
    ['int(input_tokens) + 5', undefined],
    ['1 +', 'does not compile: Unexpected token: EOF'],
    ['input_tokens * 2', 'does not compile: no such overload: uint * int'],
    ['prompt_tokens', 'does not compile: Unknown variable: prompt_tokens'],
    ["model == 'x' ? input_tokens : 1", "does not compile: Ternary branches must have the same type, got 'uint' and 'int'"],
    ['input_tokens / output_tokens', 'fails when evaluated with zero tokens, as the controller does before accepting it: division by zero'],
    ['uint(1) - uint(1200)', 'fails when evaluated with zero tokens, as the controller does before accepting it: Unsigned integer overflow'],
    ['int(input_tokens) - 5', 'evaluates to a negative number (-5) with zero tokens; a cost must be 0 or more'],
    ['model', 'evaluates to a string, not an integer; a cost must be an int or uint (e.g. input_tokens + output_tokens)'],
    ['2.5', 'evaluates to a double, not an integer; a cost must be an int or uint (e.g. input_tokens + output_tokens)'],
  ])('%s', (expression, problem) => {
    expect(cel.problem(expression)).toBe(problem);
  });

  it('denies a route whose cost expression does not compile, and one of type CEL without an expression', () => {
    const obj = route([{ name: 'chat', backendRefs: [{ name: 'a' }] }]);
    (obj.spec as Record<string, unknown>).llmRequestCosts = [
      { metadataKey: 'ok', type: 'TotalToken' },
      { metadataKey: 'bad', type: 'CEL', cel: 'total_tokens * 1.5' },
      { metadataKey: 'empty', type: 'CEL' },
    ];
    const { verdict } = review(admissionReview(obj), 'validate', deps());
    expect(verdict.findings.filter((f) => f.policy === 'llm-request-cost-cel').map((f) => [f.path, f.mode, f.message])).toEqual([
      [
        'spec.llmRequestCosts[1].cel',
        'deny',
        'CEL expression "total_tokens * 1.5" (metadataKey "bad") does not compile: no such overload: uint * double. The controller refuses it and the Gateway\'s whole configuration stops updating. Variables: model, backend, route_name (string); input_tokens, cached_input_tokens, cache_creation_input_tokens, output_tokens, total_tokens, reasoning_tokens (uint: write 2u or uint(2) next to them)',
      ],
      [
        'spec.llmRequestCosts[2].cel',
        'deny',
        'type CEL needs a cel expression (metadataKey "empty"); the controller fails with "missing CEL expression". Fix: set cel, e.g. "input_tokens + output_tokens"',
      ],
    ]);
    expect(verdict.allowed).toBe(false);
  });
});
