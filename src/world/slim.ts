import type { KubeObject } from '../kube/types.js';
import { INJECTED_ANNOTATION, INJECT_ANNOTATION } from '../model/sidecar.js';
import { SKIP_ANNOTATION, SKIP_REASON_ANNOTATION } from '../review/exemptions.js';

/**
 * The annotations anything reading the cache looks at: the sidecar audit's opt-out and injection digest, and the
 * exemption pair the background audit honours (without them an exempted object would be reported there). Every other
 * annotation, kubectl's last-applied copy of the whole object above all, is dropped on the way in.
 */
const READ_ANNOTATIONS: readonly string[] = [INJECT_ANNOTATION, INJECTED_ANNOTATION, SKIP_ANNOTATION, SKIP_REASON_ANNOTATION];

/** Strings longer than this are not looked up in a StringTable: long values (JSON paths, digests, messages) rarely repeat. */
const MAX_INTERNED_LENGTH = 128;

/**
 * One copy of each repeated string of the objects a cache holds. `JSON.parse` gives every string value of every object a
 * copy of its own (V8 shares only the shortest ones), and in a cluster most values repeat: namespaces, API groups,
 * kinds, label keys and values, backend and header names, images. At 27,000 cached objects that is megabytes.
 *
 * Bounded: it holds at most `maxEntries` strings; the one that would exceed it starts a new table (strings already
 * shared stay shared), so strings of deleted objects never pile up in it.
 */
export class StringTable {
  private readonly strings = new Map<string, string>();

  constructor(readonly maxEntries = 65_536) {}

  get size(): number {
    return this.strings.size;
  }

  /** The table's copy of `value` (which becomes the copy when it is new). */
  intern(value: string): string {
    if (value.length > MAX_INTERNED_LENGTH) return value;
    const known = this.strings.get(value);
    if (known !== undefined) return known;
    if (this.strings.size >= this.maxEntries) this.strings.clear();
    this.strings.set(value, value);
    return value;
  }

  /** Replaces every string in `value` (nested objects and arrays, in place) by the table's copy; returns `value`. */
  internAll<T>(value: T): T {
    if (Array.isArray(value)) {
      for (let i = 0; i < value.length; i++) {
        const v: unknown = value[i];
        if (typeof v === 'string') value[i] = this.intern(v);
        else if (v !== null && typeof v === 'object') this.internAll(v);
      }
    } else if (value !== null && typeof value === 'object') {
      const record = value as Record<string, unknown>;
      for (const key in record) {
        const v = record[key];
        if (typeof v === 'string') record[key] = this.intern(v);
        else if (v !== null && typeof v === 'object') this.internAll(v);
      }
    }
    return value;
  }
}

/** Metadata values that differ on every object: looking them up would only fill the table. */
const UNIQUE_METADATA = new Set(['name', 'uid', 'resourceVersion', 'creationTimestamp', 'generateName']);

/**
 * What the cache keeps of a pod's spec: the name and image of each container and init container. The sidecar audit
 * (src/audit/sidecar-audit.ts) is the only reader of cached pods, and it reads whether the ext_proc container is there,
 * in which list, and its image; env, args, probes, ports, resources and volumes are most of a proxy pod's bytes.
 */
function podSpecForCache(spec: unknown): Record<string, unknown> | undefined {
  if (spec === null || typeof spec !== 'object') return undefined;
  const kept: Record<string, unknown> = {};
  for (const list of ['containers', 'initContainers'] as const) {
    const containers = (spec as Record<string, unknown>)[list];
    if (!Array.isArray(containers)) continue;
    kept[list] = containers
      .filter((c): c is Record<string, unknown> => c !== null && typeof c === 'object')
      .map((c) => {
        // Properties added to a literal, not spread into one: V8 gives spread results a hidden class of their own,
        // one per container (measured: four per pod, with their descriptors), where added ones share it.
        const container: Record<string, unknown> = {};
        if (c.name !== undefined) container.name = c.name;
        if (c.image !== undefined) container.image = c.image;
        return container;
      });
  }
  return kept;
}

/**
 * What the informer cache keeps of an object: everything but `metadata.managedFields`, `status` and the annotations
 * nothing reads, and of a pod's spec only its containers' names and images. No policy and no audit reads those from the
 * world (they read spec, labels, owners, creationTimestamp and the annotations above), and on real objects they are
 * most of the bytes: managedFields alone is often larger than the spec. With `strings`, repeated values are stored
 * once (StringTable). Changes the object in place: the cache owns what it has just parsed from a list page or a watch
 * event.
 */
export function slimForCache(obj: KubeObject, strings?: StringTable): KubeObject {
  const meta = obj.metadata;
  if (meta) {
    // A new object rather than deletes: deleting a property that is not the last one (annotations, when
    // ownerReferences or finalizers follow it, as they do on pods) turns an object into a dictionary, larger and slower
    // to read; one built key by key in the same order shares its hidden class with every other.
    const kept: Record<string, unknown> = {};
    for (const key in meta) {
      if (key === 'managedFields') continue;
      let value = meta[key];
      if (key === 'annotations') {
        value = readAnnotations(value as Record<string, string> | undefined);
        if (value === undefined) continue;
      }
      if (strings && !UNIQUE_METADATA.has(key)) value = typeof value === 'string' ? strings.intern(value) : strings.internAll(value);
      kept[key] = value;
    }
    obj.metadata = kept as KubeObject['metadata'];
  }
  delete (obj as { status?: unknown }).status;
  if (obj.kind === 'Pod' && obj.apiVersion === 'v1' && obj.spec !== undefined) {
    const spec = podSpecForCache(obj.spec);
    if (spec) obj.spec = spec;
    else delete obj.spec;
  }
  if (strings) {
    if (typeof obj.apiVersion === 'string') obj.apiVersion = strings.intern(obj.apiVersion);
    if (typeof obj.kind === 'string') obj.kind = strings.intern(obj.kind);
    if (obj.spec !== undefined) strings.internAll(obj.spec);
  }
  return obj;
}

/** The annotations anything reads (READ_ANNOTATIONS), or undefined when there are none. */
function readAnnotations(annotations: Record<string, string> | undefined): Record<string, string> | undefined {
  if (!annotations) return undefined;
  let kept: Record<string, string> | undefined;
  for (const key of READ_ANNOTATIONS) {
    if (annotations[key] !== undefined) (kept ??= {})[key] = annotations[key];
  }
  return kept;
}
