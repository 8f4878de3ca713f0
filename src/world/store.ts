import type { KubeObject } from '../kube/types.js';

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
