import type { Ajv } from 'ajv';
import { isIP } from 'node:net';

const INT32 = { min: -2147483648, max: 2147483647 };

type KubernetesFormat = RegExp | ((s: string) => boolean) | { type: 'number'; validate: (n: number) => boolean };

/**
 * The formats the API server checks (kube-openapi's registry) that the AI Gateway and Envoy Gateway CRDs use. One
 * table for both ways a validator is made: ajv compiling a schema, and a cached validator's generated code, which
 * refers to the non-RegExp entries by name (see FORMATS_SPECIFIER); RegExp entries are written into the code.
 */
export const KUBERNETES_FORMATS: Readonly<Record<string, KubernetesFormat>> = {
  int32: { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= INT32.min && n <= INT32.max },
  int64: { type: 'number', validate: (n: number) => Number.isSafeInteger(n) || Number.isInteger(n) },
  float: { type: 'number', validate: () => true },
  double: { type: 'number', validate: () => true },
  byte: /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/,
  'date-time': /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/,
  date: /^\d{4}-\d{2}-\d{2}$/,
  ipv4: (s: string) => isIP(s) === 4,
  ipv6: (s: string) => isIP(s) === 6,
  uri: (s: string) => {
    try {
      return Boolean(new URL(s));
    } catch {
      return false;
    }
  },
  uuid: /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i,
  hostname: /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/i,
};

/** What generated validator code `require`s for KUBERNETES_FORMATS (ajv's `code.formats`); the loader answers it. */
export const FORMATS_SPECIFIER = 'aigw-admission:kubernetes-formats';

export function addKubernetesFormats(ajv: Ajv): void {
  for (const [name, format] of Object.entries(KUBERNETES_FORMATS)) ajv.addFormat(name, format);
}

/** The formats as text, part of a cached validator's key: changing one (a RegExp is inlined into the code) is a miss. */
export function formatsFingerprint(): string {
  return Object.entries(KUBERNETES_FORMATS)
    .map(([name, f]) => `${name}=${f instanceof RegExp || typeof f === 'function' ? String(f) : `${f.type}:${String(f.validate)}`}`)
    .join('\n');
}
