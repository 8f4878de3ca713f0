import type { AnyPolicy } from './policy.js';
import type { Endpoint, Mode, Operation } from '../kube/types.js';

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
  readonly active: readonly ActivePolicy[];

  constructor(
    readonly all: readonly AnyPolicy[],
    settings: Readonly<Record<string, PolicySettings>> = {},
  ) {
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

  matching(endpoint: Endpoint, group: string, kind: string, operation: Operation): ActivePolicy[] {
    const list = this.index.get(indexKey(endpoint, group, kind));
    if (!list) return [];
    return list.filter((a) => a.policy.match.operations.includes(operation));
  }
}

function indexKey(endpoint: Endpoint, group: string, kind: string): string {
  return `${endpoint}|${group}|${kind}`;
}
