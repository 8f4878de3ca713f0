import { afterEach, describe, expect, it } from 'vitest';
import { clusterWorld } from '../../src/explain/cluster.js';
import { makePageLister } from '../../src/world/list-page.js';
import { WORLD_KEYS } from '../../src/kube/registry.js';
import { FakeApiServer } from './fake-apiserver.js';
import { AIGW, EG, fakeCluster } from './support.js';
import { route } from '../helpers.js';

let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

describe('explain --route: the world read from the cluster', () => {
  it('lists routes, BackendTrafficPolicies and AIServiceBackends in pages; a kind that is not installed stays unknown', async () => {
    fake = fakeCluster();
    await fake.start();
    for (const name of ['a', 'b', 'chat']) fake.add(route([{ name: 'r0' }], name, 'team-a'));
    fake.add({ apiVersion: EG, kind: 'BackendTrafficPolicy', metadata: { name: 'btp', namespace: 'team-a' }, spec: {} });
    fake.add({ apiVersion: AIGW, kind: 'AIServiceBackend', metadata: { name: 'openai', namespace: 'team-a' }, spec: {} });
    const { world, route: found } = await clusterWorld(makePageLister(fake.kubeConfig()), 'team-a', 'chat', 2);
    expect(found.metadata).toEqual({ name: 'chat', namespace: 'team-a', resourceVersion: expect.any(String) });
    expect(world.list(WORLD_KEYS.aiGatewayRoute).map((o) => o.metadata!.name)).toEqual(['a', 'b', 'chat']);
    expect(world.list(WORLD_KEYS.backendTrafficPolicy).map((o) => o.metadata!.name)).toEqual(['btp']);
    // Three routes at two per page: two list calls, the second with the continue token of the first.
    expect(fake.calls.filter((c) => c.kind === 'list' && c.path.endsWith('/aigatewayroutes')).map((c) => [c.path, c.query.limit, c.query.continue])).toEqual([
      ['/apis/aigateway.envoyproxy.io/v1beta1/aigatewayroutes', '2', undefined],
      ['/apis/aigateway.envoyproxy.io/v1beta1/aigatewayroutes', '2', '2'],
    ]);
    expect(world.covers(WORLD_KEYS.aiServiceBackend)).toBe(true);
    // The fake has no Backend CRD: a reference to a Backend is not known to be broken.
    expect(world.covers(WORLD_KEYS.backend)).toBe(false);
  });

  it('reads an AI Gateway that serves only v1alpha1, and names a route that is not there', async () => {
    fake = new FakeApiServer();
    fake.install('aigateway.envoyproxy.io/v1alpha1', 'aigatewayroutes', 'AIGatewayRoute');
    fake.install(EG, 'backendtrafficpolicies', 'BackendTrafficPolicy');
    await fake.start();
    fake.add({ ...route([{ name: 'r0' }], 'chat', 'team-a'), apiVersion: 'aigateway.envoyproxy.io/v1alpha1' });
    const { route: found } = await clusterWorld(makePageLister(fake.kubeConfig()), 'team-a', 'chat');
    expect(found.apiVersion).toBe('aigateway.envoyproxy.io/v1alpha1');
    await expect(clusterWorld(makePageLister(fake.kubeConfig()), 'team-a', 'nope')).rejects.toThrow('--route team-a/nope: no such AIGatewayRoute in the cluster');
  });
});
