/**
 * What the provider policies share: each AIGatewayRoute rule's backendRefs resolved to the endpoints they reach
 * (src/model/providers.ts) against the world the review runs in, and the wording of refs and levels.
 */
import { routeProviders, type ProviderData, type ProviderLevel, type ResolvedRef, type RuleProviders } from '../src/model/providers.js';
import { WORLD_KEYS } from '../src/model/kinds.js';
import type { KubeObject } from '../src/kube/types.js';
import type { PolicyContext } from '../src/review/policy.js';
import type { World } from '../src/kube/types.js';

export type { RuleProviders };

/** The objects provider resolution reads, looked up in the world by name (a kind the world does not cover is unknown). */
export function providerData(world: World): ProviderData {
  const lookup = (key: string) => (world.covers(key) ? (namespace: string, name: string) => world.get(key, namespace, name) : undefined);
  return { aiServiceBackends: lookup(WORLD_KEYS.aiServiceBackend), backends: lookup(WORLD_KEYS.backend) };
}

/** The provider policies read the same resolution in one review: built once per route object (see `memo`). */
export function providersOf(ctx: PolicyContext<unknown>, route: KubeObject): RuleProviders[] {
  return ctx.memo ? ctx.memo('routeProviders', route, resolveProviders) : resolveProviders(route, ctx);
}

const resolveProviders = (route: KubeObject, ctx: PolicyContext<unknown>): RuleProviders[] => routeProviders(route, providerData(ctx.world));

/** `openai, model gpt-5` */
export function refText(r: ResolvedRef): string {
  return r.models.length ? `${r.name}, model ${r.models.join(' or ')}` : r.name;
}

/** `priority 1 (openai-mini, model gpt-5-mini)` */
export function providerLevelText(l: ProviderLevel): string {
  return `priority ${l.priority} (${l.refs.map(refText).join('; ')})`;
}
