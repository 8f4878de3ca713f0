import { definePolicy, type Policy, type VapDeclaration } from '../src/review/policy.js';

/**
 * A policy whose judging happens outside the admission review (against CRDs in `check`, against running pods in
 * `audit`), declared here so that it is registered like every other: the config sets its mode or turns it off, the
 * skip annotation and exclusions name it, and its findings carry its id. It matches no kind, so the webhook never
 * runs it and no webhook rule is generated for it.
 */
export function judgedElsewhere(id: string, description: string, defaultMode: 'deny' | 'warn', vap: VapDeclaration): Policy<Record<string, never>> {
  return definePolicy<Record<string, never>>({
    id,
    description,
    endpoint: 'validate',
    match: { kinds: [], operations: ['CREATE', 'UPDATE'] },
    defaultMode,
    vap,
    onError: 'allow-with-warning',
    paramsSchema: { type: 'object', additionalProperties: false },
    defaultParams: {},
    evaluate: () => ({}),
  });
}
