import type { FindingDraft, KubeObject } from '../kube/types.js';

/** `aigw-admission.io/skip: <policy-id>[,<policy-id>…]` on an object exempts it from those policies… */
export const SKIP_ANNOTATION = 'aigw-admission.io/skip';
/** …when it also says why (required: an exemption nobody can explain is not honoured). */
export const SKIP_REASON_ANNOTATION = 'aigw-admission.io/skip-reason';
/** The id findings about the skip annotation itself are reported under. */
export const EXEMPTION_POLICY = 'exemption';

/**
 * A config-level exclusion: the policies (default: all) that do not apply to objects in these namespaces and with these
 * names (each default: any). A name or namespace ending in `*` matches by prefix.
 */
export interface Exclusion {
  policies?: string[];
  namespaces?: string[];
  names?: string[];
  reason: string;
}

export const EXCLUSION_SCHEMA = {
  type: 'array',
  items: {
    type: 'object',
    additionalProperties: false,
    required: ['reason'],
    properties: {
      policies: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      namespaces: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      names: { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1 },
      reason: { type: 'string', minLength: 1 },
    },
  },
} as const;

const matches = (patterns: readonly string[] | undefined, value: string) =>
  !patterns || patterns.some((p) => (p.endsWith('*') ? value.startsWith(p.slice(0, -1)) : p === value));

/** What the object's annotations ask for: the policy ids, and the reason (absent when not given). */
export function skipAnnotation(object: KubeObject | null | undefined): { policies: string[]; reason?: string } | undefined {
  const annotations = object?.metadata?.annotations;
  const value = annotations?.[SKIP_ANNOTATION];
  if (typeof value !== 'string') return undefined;
  const reason = annotations?.[SKIP_REASON_ANNOTATION];
  const policies = value.split(',').map((p) => p.trim()).filter(Boolean);
  return { policies, reason: typeof reason === 'string' && reason.trim() ? reason.trim() : undefined };
}

/**
 * Why `policy` does not apply to this object, or undefined when it does. The annotation wins over the config (its
 * reason is the more specific one).
 */
export function exemptionFor(
  policy: string,
  object: KubeObject | null | undefined,
  namespace: string,
  exclusions: readonly Exclusion[],
): string | undefined {
  return exemptionsOf(object, namespace, exclusions)?.(policy);
}

/**
 * `exemptionFor` for every policy of one object, with the annotation read and the exclusions narrowed to the object's
 * namespace and name once; undefined when nothing can exempt the object (the common case: no work per policy).
 */
export function exemptionsOf(
  object: KubeObject | null | undefined,
  namespace: string,
  exclusions: readonly Exclusion[],
): ((policy: string) => string | undefined) | undefined {
  const skip = skipAnnotation(object);
  const skipped = skip?.reason ? skip.policies : undefined;
  const name = object?.metadata?.name ?? '';
  const applying = exclusions.length === 0 ? exclusions : exclusions.filter((e) => matches(e.namespaces, namespace) && matches(e.names, name));
  if (!skipped && applying.length === 0) return undefined;
  return (policy) => {
    if (skipped?.includes(policy)) return `${SKIP_ANNOTATION}: ${skip!.reason}`;
    for (const e of applying) if (matches(e.policies, policy)) return `config exclusion: ${e.reason}`;
    return undefined;
  };
}

/**
 * Problems with the skip annotation, as findings of `exemption`, for the policies in `relevant` (those that run on the
 * object): a skip without its reason is not honoured and says so, and an id that names no policy is reported rather
 * than silently ignored.
 */
export function annotationProblems(
  object: KubeObject | null | undefined,
  /** The ids of the policies that run on the object; asked only when it has the annotation. */
  relevant: () => readonly string[],
  /** Every policy id, to report ids that name none; undefined: not reported here. */
  known: ReadonlySet<string> | undefined,
): FindingDraft[] {
  const skip = skipAnnotation(object);
  if (!skip) return [];
  const out: FindingDraft[] = [];
  const path = `metadata.annotations["${SKIP_ANNOTATION}"]`;
  const ids = relevant();
  const named = skip.policies.filter((p) => ids.includes(p));
  if (!skip.reason && named.length > 0) {
    out.push({
      path,
      message: `skips ${named.join(', ')} without a reason, so the exemption is not honoured. Fix: add the annotation ${SKIP_REASON_ANNOTATION} saying why (e.g. "accepted until the provider fixes X, ticket OPS-123").`,
    });
  }
  const unknown = known ? skip.policies.filter((p) => !known.has(p)) : [];
  if (known && unknown.length > 0) {
    out.push({ path, message: `names no policy: ${unknown.join(', ')}. Fix: use policy ids as printed in findings (e.g. ${[...known].slice(0, 3).join(', ')}).` });
  }
  return out;
}
