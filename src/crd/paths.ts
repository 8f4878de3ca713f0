/** Field paths as the API server prints them: `spec.rules[0].timeouts.request`, `metadata.labels[app.kubernetes.io/name]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent}[${key}]`;
  if (!/^[A-Za-z_$][\w$-]*$/.test(key)) return `${parent}[${key}]`;
  return parent ? `${parent}.${key}` : key;
}

/** An ajv `instancePath` (JSON Pointer) read against the data, so array indexes become `[i]`. */
export function pointerToFieldPath(data: unknown, pointer: string): string {
  if (!pointer) return '';
  let path = '';
  let node: unknown = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(node)) {
      const i = Number(seg);
      path = childPath(path, i);
      node = node[i];
    } else {
      path = childPath(path, seg);
      node = node && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

/** A value as the API server quotes it in `Invalid value: …` (Go's %q for strings, the type name for composites). */
export function quoteValue(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') return String(value);
  return Array.isArray(value) ? '"array"' : '"object"';
}

/** The JSON type name the API server prints: "object", "array", "string", "integer", "number", "boolean", "null". */
export function jsonTypeName(value: unknown): string {
  if (value === null || value === undefined) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}
