import type { AnyPolicy } from './policy.js';
import type { Endpoint, KubeObject, Mode, Operation } from '../kube/types.js';
import { exemptionFor, exemptionsOf, type Exclusion } from './exemptions.js';

export interface ActivePolicy {
  policy: AnyPolicy;
  mode: Mode;
  params: unknown;
  /** The policy's `prepare(params)`, built at load. */
  prepared?: unknown;
}

export interface PolicySettings {
  enabled?: boolean;
  mode?: Mode;
  params?: Record<string, unknown>;
}

/**
 * The policies in force, resolved against the config once at load and indexed by endpoint and group/kind, so a review
 * only touches the policies that match it.
 */
export class PolicySet {
  private readonly index = new Map<string, ActivePolicy[]>();
  /** endpoint → group → kind → operation → policies: four lookups of strings the request carries, no key to build. */
  private readonly byRequest = new Map<string, Map<string, Map<string, Map<string, readonly ActivePolicy[]>>>>();
  readonly active: readonly ActivePolicy[];
  /** Every policy id the set knows, enabled or not (for exemptions naming policies). */
  readonly ids: ReadonlySet<string>;

  constructor(
    readonly all: readonly AnyPolicy[],
    settings: Readonly<Record<string, PolicySettings>> = {},
    /** Config-level exclusions: objects these policies do not apply to. */
    readonly exclusions: readonly Exclusion[] = [],
  ) {
    this.ids = new Set(all.map((p) => p.id));
    const active: ActivePolicy[] = [];
    for (const policy of all) {
      const s = settings[policy.id] ?? {};
      if (!(s.enabled ?? policy.defaultEnabled ?? true)) continue;
      const params = Object.freeze({ ...(policy.defaultParams as object), ...(s.params ?? {}) });
      const entry: ActivePolicy = { policy, mode: s.mode ?? policy.defaultMode, params, prepared: policy.prepare?.(params) };
      active.push(entry);
      for (const k of policy.match.kinds) {
        const key = indexKey(policy.endpoint, k.group, k.kind);
        const list = this.index.get(key) ?? [];
        list.push(entry);
        this.index.set(key, list);
      }
    }
    this.active = active;
  }

  /** The active entry of one policy by id (policies judged outside review, e.g. crd-schema, read their mode here). */
  get(id: string): ActivePolicy | undefined {
    return this.active.find((a) => a.policy.id === id);
  }

  /** Why `policy` does not apply to `object` in `namespace` (annotation or config exclusion), or undefined. */
  exemption(policy: string, object: KubeObject | null | undefined, namespace: string): string | undefined {
    return exemptionFor(policy, object, namespace, this.exclusions);
  }

  /** `exemption` for every policy of one object, worked out once; undefined when nothing exempts it. */
  exemptions(object: KubeObject | null | undefined, namespace: string): ((policy: string) => string | undefined) | undefined {
    return exemptionsOf(object, namespace, this.exclusions);
  }

  /** The active policies for a request, in registration order; the same array for the same key (do not change it). */
  matching(endpoint: Endpoint, group: string, kind: string, operation: Operation): readonly ActivePolicy[] {
    // Filtered by operation once per request kind, not on every review.
    const known = this.byRequest.get(endpoint)?.get(group)?.get(kind)?.get(operation);
    if (known) return known;
    const all = this.index.get(indexKey(endpoint, group, kind));
    // Unknown kinds are not remembered: a client may send any kind, and the map must stay as small as the policies.
    if (!all) return [];
    const list = Object.freeze(all.filter((a) => a.policy.match.operations.includes(operation)));
    const level = <V>(map: Map<string, V>, key: string, make: () => V): V => {
      let next = map.get(key);
      if (next === undefined) map.set(key, (next = make()));
      return next;
    };
    level(level(level(this.byRequest, endpoint, () => new Map()), group, () => new Map()), kind, () => new Map()).set(operation, list);
    return list;
  }
}

function indexKey(endpoint: Endpoint, group: string, kind: string): string {
  return `${endpoint}|${group}|${kind}`;
}
