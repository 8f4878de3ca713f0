import type { KubeObject } from '../kube/types.js';

export type { World } from '../kube/types.js';
import type { World } from '../kube/types.js';
import { NamespacedStore } from './store.js';

/** `minor` from GET /version: "33", or "33+" on many managed clusters. */
export function parseKubernetesMinor(minor: unknown): number | undefined {
  if (typeof minor !== 'string') return undefined;
  const m = /^(\d+)\+?$/.exec(minor.trim());
  return m ? Number(m[1]) : undefined;
}

export function groupKindKey(apiVersionOrGroup: string, kind: string): string {
  const slash = apiVersionOrGroup.indexOf('/');
  // `apiVersion` "aigateway.envoyproxy.io/v1beta1" → group; "v1" (core) → ""; a bare group passes through.
  const group = slash >= 0 ? apiVersionOrGroup.slice(0, slash) : /^v\d/.test(apiVersionOrGroup) ? '' : apiVersionOrGroup;
  return `${group}/${kind}`;
}

/**
 * A world over objects held in memory: the given files, or what `aigw-admission audit` listed. Each kind is a
 * NamespacedStore, indexed like serve's cache, so a policy's lookup costs the same in every door.
 */
export class MemoryWorld implements World {
  private readonly byKind: Map<string, NamespacedStore>;
  private minor: number | undefined;
  private synced: Date | undefined;
  private isReady: boolean;
  private readonly complete: Set<string>;

  /** `complete`: kinds this world knows in full even when it holds none of them (e.g. a cluster list that came back empty). */
  constructor(objects: Iterable<KubeObject> = [], options: { kubernetesMinor?: number; alwaysReady?: boolean; complete?: Iterable<string>; stores?: ReadonlyMap<string, NamespacedStore> } = {}) {
    this.minor = options.kubernetesMinor;
    this.isReady = options.alwaysReady ?? true;
    this.complete = new Set(options.complete ?? []);
    this.byKind = new Map(options.stores ?? []);
    for (const o of objects) this.upsert(o);
  }

  /** A world over stores already filled (one per kind, each listed in full): complete for every kind given. */
  static fromStores(stores: ReadonlyMap<string, NamespacedStore>, kubernetesMinor: number | undefined): MemoryWorld {
    return new MemoryWorld([], { kubernetesMinor, stores, complete: stores.keys() });
  }

  upsert(obj: KubeObject): void {
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return;
    const key = groupKindKey(obj.apiVersion, obj.kind);
    let store = this.byKind.get(key);
    if (!store) this.byKind.set(key, (store = new NamespacedStore()));
    store.set(obj);
  }

  remove(obj: KubeObject): void {
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return;
    this.byKind.get(groupKindKey(obj.apiVersion, obj.kind))?.delete(obj.metadata?.namespace ?? '', obj.metadata?.name ?? '');
  }

  /** Replace every object of one kind (a fresh list after a watch expired). */
  replaceKind(groupKind: string, objects: KubeObject[]): void {
    const store = new NamespacedStore();
    for (const o of objects) store.set(o);
    this.byKind.set(groupKind, store);
  }

  get(groupKind: string, namespace: string, name: string): KubeObject | undefined {
    return this.byKind.get(groupKind)?.get(namespace, name);
  }

  list(groupKind: string, namespace?: string): KubeObject[] {
    return this.byKind.get(groupKind)?.list(namespace) ?? [];
  }

  kinds(): string[] {
    return [...this.byKind.keys()];
  }

  covers(groupKind: string): boolean {
    return this.complete.has(groupKind) || (this.byKind.get(groupKind)?.size ?? 0) > 0;
  }

  kubernetesMinor(): number | undefined {
    return this.minor;
  }

  setKubernetesMinor(minor: number | undefined): void {
    this.minor = minor;
  }

  markSynced(at: Date): void {
    this.synced = at;
    this.isReady = true;
  }

  syncedAt(): Date | undefined {
    return this.synced;
  }

  ready(): boolean {
    return this.isReady;
  }
}
