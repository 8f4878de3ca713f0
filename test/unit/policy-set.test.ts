import { describe, expect, it } from 'vitest';
import { ALL_POLICIES } from '../../policies/index.js';
import { PolicySet } from '../../src/review/policy-set.js';

describe('PolicySet.matching', () => {
  const set = new PolicySet(ALL_POLICIES);
  const ids = (operation: 'CREATE' | 'UPDATE' | 'DELETE') => set.matching('validate', 'aigateway.envoyproxy.io', 'AIGatewayRoute', operation).map((a) => a.policy.id);

  it('filters by operation: a route DELETE meets only the policies that declare DELETE', () => {
    expect(ids('DELETE')).toEqual(['orphaned-rule-references']);
    expect(ids('CREATE')).not.toContain('orphaned-rule-references');
    expect(ids('UPDATE')).toContain('orphaned-rule-references');
    expect(ids('CREATE').length).toBeGreaterThan(10);
  });

  it('answers the same frozen list for the same request kind and operation, and nothing for a kind no policy matches', () => {
    const first = set.matching('validate', 'aigateway.envoyproxy.io', 'AIGatewayRoute', 'CREATE');
    expect(set.matching('validate', 'aigateway.envoyproxy.io', 'AIGatewayRoute', 'CREATE')).toBe(first);
    expect(Object.isFrozen(first)).toBe(true);
    expect(set.matching('validate', 'example.com', 'Widget', 'CREATE')).toEqual([]);
  });
});

describe('PolicySet.exemptions', () => {
  const route = (name: string, annotations?: Record<string, string>) => ({ apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', metadata: { name, namespace: 'team-a', annotations } });
  const set = new PolicySet(ALL_POLICIES, {}, [
    { namespaces: ['team-*'], names: ['canary-*'], policies: ['duration-syntax'], reason: 'canaries try new syntax' },
    { namespaces: ['sandbox'], reason: 'sandboxes try things out' },
  ]);

  it('is undefined when neither an annotation nor an exclusion can exempt the object, so a review does no work per policy', () => {
    expect(set.exemptions(route('chat'), 'team-a')).toBeUndefined();
    expect(set.exemptions(route('chat', { 'aigw-admission.io/skip': 'stream-idle-zero' }), 'team-a')).toBeUndefined();
    expect(new PolicySet(ALL_POLICIES).exemptions(null, '')).toBeUndefined();
  });

  it('answers per policy what exemption() answers: the annotation with its reason first, then the exclusions in order', () => {
    const annotated = route('canary-1', { 'aigw-admission.io/skip': 'stream-idle-zero, duration-syntax', 'aigw-admission.io/skip-reason': 'OPS-42' });
    const cases: Array<[ReturnType<typeof route>, string]> = [
      [annotated, 'team-a'],
      [route('canary-1'), 'team-a'],
      [route('chat'), 'sandbox'],
    ];
    for (const [object, namespace] of cases) {
      const exempt = set.exemptions(object, namespace)!;
      for (const id of ['duration-syntax', 'stream-idle-zero', 'fallover-budget']) expect(exempt(id)).toBe(set.exemption(id, object, namespace));
    }
    expect(set.exemptions(annotated, 'team-a')!('duration-syntax')).toBe('aigw-admission.io/skip: OPS-42');
    expect(set.exemptions(route('canary-1'), 'team-a')!('duration-syntax')).toBe('config exclusion: canaries try new syntax');
    expect(set.exemptions(route('canary-1'), 'team-a')!('stream-idle-zero')).toBeUndefined();
    expect(set.exemptions(route('chat'), 'sandbox')!('fallover-budget')).toBe('config exclusion: sandboxes try things out');
  });
});
