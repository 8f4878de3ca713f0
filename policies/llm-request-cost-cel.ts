import { definePolicy } from '../src/review/policy.js';
import { DEFAULT_LLM_COST_LIMITS, LlmCostCel, type LlmCostLimits } from '../src/cel/cel.js';
import { quoteValue } from '../src/review/text.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import type { FindingDraft } from '../src/kube/types.js';

interface LlmRequestCost {
  metadataKey?: unknown;
  type?: unknown;
  cel?: unknown;
}

const VARIABLES =
  'Variables: model, backend, route_name (string); input_tokens, cached_input_tokens, cache_creation_input_tokens, output_tokens, total_tokens, reasoning_tokens (uint: write 2u or uint(2) next to them)';

const positive = { type: 'integer', minimum: 1 } as const;

export default definePolicy<LlmCostLimits>({
  id: 'llm-request-cost-cel',
  description:
    'An llmRequestCosts CEL expression the controller cannot compile makes it reject the translation, which breaks the config of every route on the Gateway.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      maxLength: positive,
      maxDepth: { type: 'integer', minimum: 1, maximum: 250 },
      maxEntries: positive,
      maxCostPerExpression: positive,
      maxCostPerRoute: positive,
    },
  },
  defaultParams: { ...DEFAULT_LLM_COST_LIMITS },
  // One compiler and program cache per config: the same route's expressions are compiled once, not on every review.
  prepare: (limits) => new LlmCostCel(limits),
  vap: { missing: 'not-expressible', why: "it compiles the cost expression with the controller's CEL environment, which CEL cannot do to itself" },
  evaluate({ object, params, prepared }) {
    const costs = (object?.spec as { llmRequestCosts?: unknown } | undefined)?.llmRequestCosts;
    if (!Array.isArray(costs)) return {};
    const findings: FindingDraft[] = [];
    let cel = prepared as LlmCostCel | undefined;
    let spent = 0;
    costs.forEach((raw: unknown, i: number) => {
      const cost = (raw ?? {}) as LlmRequestCost;
      if (cost.type !== 'CEL') return;
      const path = `spec.llmRequestCosts[${i}].cel`;
      // Message text is built only for a finding: most expressions are fine.
      const key = () => (typeof cost.metadataKey === 'string' ? ` (metadataKey ${quoteValue(cost.metadataKey)})` : '');
      if (typeof cost.cel !== 'string' || cost.cel.trim() === '') {
        findings.push({ path, message: `type CEL needs a cel expression${key()}; the controller fails with "missing CEL expression". Fix: set cel, e.g. "input_tokens + output_tokens"` });
        return;
      }
      cel ??= new LlmCostCel(params);
      const expression = cost.cel;
      const quoted = () => `CEL expression ${quoteValue(expression)}${key()}`;
      const compiled = cel.compile(cost.cel);
      if (compiled.problem === undefined && spent + compiled.cost > params.maxCostPerRoute) {
        // Over the route's budget: not evaluated, so one route cannot buy unbounded work with many cheap expressions.
        spent += compiled.cost;
        findings.push({
          path,
          message: `${quoted()} has an estimated cost of ${compiled.cost}, which brings the route's llmRequestCosts to ${spent}, over the budget of ${params.maxCostPerRoute} per route. The controller evaluates every one on each request; simplify or remove some (maxCostPerRoute)`,
        });
        return;
      }
      spent += compiled.cost ?? 0;
      const problem = compiled.problem ?? cel.run(cost.cel, compiled.program);
      if (!problem) return;
      const outage =
        'limit' in compiled && compiled.limit
          ? `The controller evaluates it on every request, so it must stay small: nest fewer comprehensions, use shorter lists (policy param ${compiled.limit})`
          : `The controller refuses it and the Gateway's whole configuration stops updating. ${VARIABLES}`;
      findings.push({ path, message: `${quoted()} ${problem}. ${outage}` });
    });
    return { findings };
  },
});
