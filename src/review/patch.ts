import type { JsonPatchOperation } from '../kube/types.js';

/** RFC 6901: `~` → `~0`, `/` → `~1` (label and annotation keys contain `/`). */
export function escapePointerToken(token: string | number): string {
  if (typeof token === 'number') return String(token);
  // Most tokens (field names) need no escaping: skip the two regex passes.
  return token.includes('~') || token.includes('/') ? token.replace(/~/g, '~0').replace(/\//g, '~1') : token;
}

export function pointer(segments: ReadonlyArray<string | number>): string {
  let out = '';
  for (const s of segments) out += `/${escapePointerToken(s)}`;
  return out;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The original value under one token, undefined when missing (or below a missing one). */
function child(parent: unknown, token: string | number): unknown {
  if (Array.isArray(parent) && typeof token === 'number') return parent[token];
  if (isObject(parent)) return Object.prototype.hasOwnProperty.call(parent, token) ? parent[token as string] : undefined;
  return undefined;
}

/**
 * Builds explicit JSON Patch operations against the original object without copying or diffing it: only the paths
 * that change are visited. Parents a previous operation created are remembered (`created`), so two defaults under the
 * same missing parent emit one `add {}` for it. A builder per policy keeps its own additions until `commit` merges them.
 */
export class PatchBuilder {
  readonly ops: JsonPatchOperation[] = [];
  /** Parents this builder created; made on the first one (most policies of a review never patch). */
  private local: Set<string> | undefined;

  constructor(
    private readonly root: unknown,
    private readonly created: Set<string> = new Set(),
  ) {}

  /** Does the path exist in the original object or was it created by an earlier operation? */
  exists(segments: ReadonlyArray<string | number>): boolean {
    const p = pointer(segments);
    if (this.created.has(p) || this.local?.has(p)) return true;
    return this.lookup(segments) !== undefined;
  }

  /** The original value at the path (not what earlier operations wrote). */
  lookup(segments: ReadonlyArray<string | number>): unknown {
    let cur: unknown = this.root;
    for (const s of segments) cur = child(cur, s);
    return cur;
  }

  /** Emit `add {}` for every missing object on the way down to `segments` (inclusive). */
  ensureObject(segments: ReadonlyArray<string | number>): void {
    // One walk down the original object and one pointer grown a token at a time, not a lookup from the root per prefix.
    let cur: unknown = this.root;
    let path = '';
    for (const s of segments) {
      cur = child(cur, s);
      path += `/${escapePointerToken(s)}`;
      if (cur === undefined && !this.created.has(path) && !this.local?.has(path)) {
        this.ops.push({ op: 'add', path, value: {} });
        (this.local ??= new Set()).add(path);
      }
    }
  }

  /** Set a value, creating missing parent objects first. `replace` when it exists, `add` otherwise. */
  set(segments: ReadonlyArray<string | number>, value: unknown): void {
    this.ensureObject(segments.slice(0, -1));
    if (this.exists(segments)) this.ops.push({ op: 'replace', path: pointer(segments), value });
    else this.addRaw(segments, value);
  }

  /** Append to an array, creating it (and its parents) when missing. */
  append(arraySegments: ReadonlyArray<string | number>, value: unknown): void {
    if (!this.exists(arraySegments)) {
      this.ensureObject(arraySegments.slice(0, -1));
      this.addRaw(arraySegments, [value]);
      return;
    }
    this.ops.push({ op: 'add', path: `${pointer(arraySegments)}/-`, value });
  }

  /** Make this builder's created parents visible to later builders. */
  commit(): void {
    if (this.local) for (const p of this.local) this.created.add(p);
  }

  private addRaw(segments: ReadonlyArray<string | number>, value: unknown): void {
    const p = pointer(segments);
    this.ops.push({ op: 'add', path: p, value });
    (this.local ??= new Set()).add(p);
  }
}
