import type { KubeObject } from '../kube/types.js';

export type { World } from '../kube/types.js';
import type { World } from '../kube/types.js';

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

export function objectKey(obj: KubeObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

/** A world over objects held in memory: the given files, or the store the informers keep up to date. */
export class MemoryWorld implements World {
  private readonly byKind = new Map<string, Map<string, KubeObject>>();
  private minor: number | undefined;
  private synced: Date | undefined;
  private isReady: boolean;
  private readonly complete: Set<string>;

  /** `complete`: kinds this world knows in full even when it holds none of them (e.g. a cluster list that came back empty). */
  constructor(objects: Iterable<KubeObject> = [], options: { kubernetesMinor?: number; alwaysReady?: boolean; complete?: Iterable<string> } = {}) {
    this.minor = options.kubernetesMinor;
    this.isReady = options.alwaysReady ?? true;
    this.complete = new Set(options.complete ?? []);
    for (const o of objects) this.upsert(o);
  }

  upsert(obj: KubeObject): void {
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return;
    const key = groupKindKey(obj.apiVersion, obj.kind);
    let store = this.byKind.get(key);
    if (!store) this.byKind.set(key, (store = new Map()));
    store.set(objectKey(obj), obj);
  }

  remove(obj: KubeObject): void {
    if (typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') return;
    this.byKind.get(groupKindKey(obj.apiVersion, obj.kind))?.delete(objectKey(obj));
  }

  /** Replace every object of one kind (a fresh list after a watch expired). */
  replaceKind(groupKind: string, objects: KubeObject[]): void {
    this.byKind.set(groupKind, new Map(objects.map((o) => [objectKey(o), o])));
  }

  get(groupKind: string, namespace: string, name: string): KubeObject | undefined {
    return this.byKind.get(groupKind)?.get(`${namespace}/${name}`);
  }

  list(groupKind: string, namespace?: string): KubeObject[] {
    const store = this.byKind.get(groupKind);
    if (!store) return [];
    const all = [...store.values()];
    return namespace === undefined ? all : all.filter((o) => (o.metadata?.namespace ?? '') === namespace);
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
