/**
 * What the provider policies share: each AIGatewayRoute rule's backendRefs resolved to the endpoints they reach
 * (src/model/providers.ts), against the world the review runs in, and the wording of refs and levels.
 */
import { describeRule, routeRules, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { providerLevels, resolveRule, type ProviderLevel, type ResolvedRef } from '../src/model/providers.js';
import type { KubeObject } from '../src/kube/types.js';
import type { PolicyContext } from '../src/review/policy.js';
import type { World } from '../src/kube/types.js';

export interface RuleProviders {
  index: number;
  /** `spec.rules[0] ("chat")` */
  label: string;
  refs: ResolvedRef[];
  levels: ProviderLevel[];
}

/** The three provider policies read the same resolution in one review: built once per route object (see `memo`). */
export function providersOf(ctx: PolicyContext<unknown>, route: KubeObject): RuleProviders[] {
  return ctx.memo ? ctx.memo('routeProviders', route, () => routeProviders(route, ctx.world)) : routeProviders(route, ctx.world);
}

export function routeProviders(route: KubeObject, world: World): RuleProviders[] {
  const r = route as AIGatewayRoute;
  return routeRules(r).map((rule, index) => {
    const refs = resolveRule(r, rule, index, world);
    return { index, label: describeRule(rule, index), refs, levels: providerLevels(refs) };
  });
}

/** `openai, model gpt-5` */
export function refText(r: ResolvedRef): string {
  return r.models.length ? `${r.name}, model ${r.models.join(' or ')}` : r.name;
}

/** `priority 1 (openai-mini, model gpt-5-mini)` */
export function providerLevelText(l: ProviderLevel): string {
  return `priority ${l.priority} (${l.refs.map(refText).join('; ')})`;
}
