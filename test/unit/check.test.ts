import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { ALL_POLICIES } from '../../policies/index.js';
import { checkObjects } from '../../src/check/check.js';
import { readManifests } from '../../src/input/manifests.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ROOT } from '../helpers.js';

const FILE = join(ROOT, 'test/fixtures/check/cross-reference/route-and-patch.yaml');
const opts = { policies: new PolicySet(ALL_POLICIES), now: () => new Date('2026-11-23T12:00:00Z') };

describe('checkObjects', () => {
  it('uses the given objects as the world: an EnvoyPatchPolicy is checked against the route among them (both placed in default)', () => {
    const r = checkObjects(readManifests([FILE]), opts);
    expect(r.objects).toBe(2);
    expect(r.findings.map((f) => [f.policy, f.mode, `${f.resource.kind} ${f.resource.namespace}/${f.resource.name}`, f.path, f.source])).toEqual([
      ['route-rule-index', 'deny', 'EnvoyPatchPolicy default/patch', 'spec.jsonPatches[0].operation.jsonPath', `${FILE}:11`],
    ]);
    expect(r.findings[0]!.message).toContain('but AIGatewayRoute default/chat has 1 rule: 0 ("chat")');
  });

  it('without the route among the files the patch only warns; a world passed in (what audit will pass) is used instead', () => {
    const [route, patch] = readManifests([FILE]);
    expect(checkObjects([patch!], opts).findings.map((f) => [f.policy, f.mode])).toEqual([['route-rule-index', 'warn']]);
    const world = new MemoryWorld([{ ...route!.object, metadata: { name: 'chat', namespace: 'default' } }]);
    expect(checkObjects([patch!], { ...opts, world }).findings.map((f) => [f.policy, f.mode])).toEqual([['route-rule-index', 'deny']]);
  });
});
