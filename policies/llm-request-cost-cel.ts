import { definePolicy } from '../src/review/policy.js';
import { LlmCostCel } from '../src/cel.js';
import { ON_AIGATEWAYROUTE_WRITES } from './helpers.js';
import type { FindingDraft } from '../src/kube/types.js';

interface LlmRequestCost {
  metadataKey?: unknown;
  type?: unknown;
  cel?: unknown;
}

export default definePolicy({
  id: 'llm-request-cost-cel',
  description:
    'An llmRequestCosts CEL expression the controller cannot compile makes it reject the translation, which breaks the config of every route on the Gateway.',
  endpoint: 'validate',
  ...ON_AIGATEWAYROUTE_WRITES,
  defaultMode: 'deny',
  evaluate({ object }) {
    const costs = (object?.spec as { llmRequestCosts?: unknown } | undefined)?.llmRequestCosts;
    if (!Array.isArray(costs)) return {};
    const findings: FindingDraft[] = [];
    let cel: LlmCostCel | undefined;
    costs.forEach((raw: unknown, i: number) => {
      const cost = (raw ?? {}) as LlmRequestCost;
      if (cost.type !== 'CEL') return;
      const path = `spec.llmRequestCosts[${i}].cel`;
      const key = typeof cost.metadataKey === 'string' ? ` (metadataKey "${cost.metadataKey}")` : '';
      if (typeof cost.cel !== 'string' || cost.cel.trim() === '') {
        findings.push({ path, message: `type CEL needs a cel expression${key}; the controller fails with "missing CEL expression". Fix: set cel, e.g. "input_tokens + output_tokens"` });
        return;
      }
      cel ??= new LlmCostCel();
      const problem = cel.problem(cost.cel);
      if (problem) {
        findings.push({
          path,
          message:
            `CEL expression ${JSON.stringify(cost.cel)}${key} ${problem}. The controller refuses it and the Gateway's whole configuration stops updating. ` +
            'Variables: model, backend, route_name (string); input_tokens, cached_input_tokens, cache_creation_input_tokens, output_tokens, total_tokens, reasoning_tokens (uint: write 2u or uint(2) next to them)',
        });
      }
    });
    return { findings };
  },
});
