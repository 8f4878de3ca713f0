import type { KindMatch } from '../kube/types.js';
import { knownKind, WORLD_KEYS } from '../kube/registry.js';

/** What a policy matches, from the registry: the plural resource and every served version (the webhook rules list them). */
function match(key: string): KindMatch {
  const k = knownKind(key);
  return { group: k.group, kind: k.kind, resource: k.plural, versions: [...k.versions].sort() };
}

/** The kinds policies match. */
export const AIGATEWAYROUTE: KindMatch = match(WORLD_KEYS.aiGatewayRoute);
export const POD: KindMatch = match(WORLD_KEYS.pod);
export const ENVOYPATCHPOLICY: KindMatch = match(WORLD_KEYS.envoyPatchPolicy);
export const BACKENDTRAFFICPOLICY: KindMatch = match(WORLD_KEYS.backendTrafficPolicy);

export { WORLD_KEYS };
