import { describe, expect, it } from 'vitest';
import { cacheNotice } from '../../src/world/staleness.js';
import { MemoryWorld } from '../../src/world/world.js';
import { ConfigLoader } from '../../src/config/config.js';
import { ALL_POLICIES } from '../../policies/index.js';

const now = new Date('2026-11-23T12:10:00Z');

describe('cacheNotice', () => {
  it('says nothing for a world that is always complete (files, standalone)', () => {
    expect(cacheNotice(new MemoryWorld(), () => now, 300)).toBeUndefined();
  });
  it('warns before the first sync', () => {
    expect(cacheNotice(new MemoryWorld([], { alwaysReady: false }), () => now, 300)).toBe(
      '[cluster-cache] the cluster cache has not finished its first sync: lookups of other objects saw only part of the cluster',
    );
  });
  it('warns only once the last synced view is older than staleAfterSeconds', () => {
    const world = new MemoryWorld();
    world.markSynced(new Date('2026-11-23T12:05:00Z'));
    expect(cacheNotice(world, () => now, 300)).toBeUndefined();
    expect(cacheNotice(world, () => now, 299)).toBe(
      '[cluster-cache] lookups of other objects used the cluster state as last synced 5m0s ago (2026-11-23T12:05:00.000Z), ' +
        'older than cache.staleAfterSeconds 299: the webhook has lost its watch on the API server',
    );
  });
});

describe('config: cache.staleAfterSeconds', () => {
  const loader = new ConfigLoader(ALL_POLICIES);
  it('defaults to 300 and takes an integer of seconds', () => {
    expect(loader.fromObject({}).cache).toEqual({ staleAfterSeconds: 300 });
    expect(loader.fromText('cache:\n  staleAfterSeconds: 120\n').cache).toEqual({ staleAfterSeconds: 120 });
  });
  it('refuses a bad value, naming the field', () => {
    expect(() => loader.fromText('cache:\n  staleAfterSeconds: 0\n', 'config.yaml')).toThrow('config.yaml: cache.staleAfterSeconds: must be >= 1');
    expect(() => loader.fromText('cache:\n  staleAfter: 10\n', 'config.yaml')).toThrow('config.yaml: cache.staleAfter: unknown field; remove it or check its spelling');
  });
});
