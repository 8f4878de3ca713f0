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
