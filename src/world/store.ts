import type { KubeObject } from '../kube/types.js';
import type { World } from './world.js';

/**
 * Objects of one kind, indexed the way policies look them up: by namespace, then name. `get` is two map reads and
 * `list(namespace)` touches only that namespace, so a review's lookups cost the same with 10 or 10,000 objects of the
 * kind elsewhere in the cluster.
 */
export class NamespacedStore {
  private readonly byNamespace = new Map<string, Map<string, KubeObject>>();
  private count = 0;

  get size(): number {
    return this.count;
  }

  set(obj: KubeObject): void {
    const namespace = obj.metadata?.namespace ?? '';
    let names = this.byNamespace.get(namespace);
    if (!names) this.byNamespace.set(namespace, (names = new Map()));
    const name = obj.metadata?.name ?? '';
    if (!names.has(name)) this.count++;
    names.set(name, obj);
  }

  delete(namespace: string, name: string): void {
    const names = this.byNamespace.get(namespace);
    if (!names?.delete(name)) return;
    this.count--;
    if (names.size === 0) this.byNamespace.delete(namespace);
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.byNamespace.get(namespace)?.get(name);
  }

  /** A new array each call: callers may keep or sort it. */
  list(namespace?: string): KubeObject[] {
    if (namespace !== undefined) {
      const names = this.byNamespace.get(namespace);
      return names ? [...names.values()] : [];
    }
    const all: KubeObject[] = [];
    for (const names of this.byNamespace.values()) for (const o of names.values()) all.push(o);
    return all;
  }
}

/**
 * A world over one NamespacedStore per kind, complete for the kinds it was given (listed in full, with objects or
 * none): what `aigw-admission audit` judges, indexed like serve's cache so a policy's lookup costs the same in both.
 */
export class StoreWorld implements World {
  constructor(
    private readonly stores: ReadonlyMap<string, NamespacedStore>,
    private readonly minor: number | undefined,
  ) {}

  get(groupKind: string, namespace: string, name: string): KubeObject | undefined {
    return this.stores.get(groupKind)?.get(namespace, name);
  }

  list(groupKind: string, namespace?: string): KubeObject[] {
    return this.stores.get(groupKind)?.list(namespace) ?? [];
  }

  covers(groupKind: string): boolean {
    return this.stores.has(groupKind);
  }

  kubernetesMinor(): number | undefined {
    return this.minor;
  }

  syncedAt(): Date | undefined {
    return undefined;
  }

  ready(): boolean {
    return true;
  }
}
