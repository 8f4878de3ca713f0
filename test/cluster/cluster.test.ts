import { afterEach, describe, expect, it } from 'vitest';
import { FakeApiServer } from './fake-apiserver.js';
import { ClusterWorld, parseKubernetesMinor } from '../../src/world/cluster-world.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { review } from '../../src/review/review.js';
import type { ReviewDeps } from '../../src/review/deps.js';
import { AIGW, EG, FAST_RETRY, T0, fakeCluster, patchPolicy, recordingLogger, routeLookup } from './support.js';
import { WORLD_KEYS } from '../../src/model/kinds.js';
import { ALL_POLICIES } from '../../policies/index.js';
import { admissionReview, route } from '../helpers.js';

let fake: FakeApiServer | undefined;
let world: ClusterWorld | undefined;
afterEach(async () => {
  await world?.stop();
  world = undefined;
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

async function started(opts: { pageSize?: number; notInstalledRetryMs?: number; now?: () => Date } = {}) {
  const logger = recordingLogger();
  world = new ClusterWorld({
    kubeConfig: fake!.kubeConfig(),
    logger,
    now: opts.now ?? (() => T0),
    pageSize: opts.pageSize,
    retry: FAST_RETRY,
    notInstalledRetryMs: opts.notInstalledRetryMs ?? 60_000,
  });
  world.start();
  return { world, logger };
}

const names = (w: ClusterWorld, key: string) => w.list(key).map((o) => `${o.metadata!.namespace}/${o.metadata!.name}`).sort();
const watching = (w: ClusterWorld) => w.status().every((s) => s.state === 'watching' || s.state === 'not-installed');

describe('parseKubernetesMinor (GET /version)', () => {
  it('reads "33", "33+" (managed clusters) and refuses anything else', () => {
    expect(parseKubernetesMinor('33')).toBe(33);
    expect(parseKubernetesMinor('33+')).toBe(33);
    expect(parseKubernetesMinor('29+ ')).toBe(29);
    expect(parseKubernetesMinor('')).toBeUndefined();
    expect(parseKubernetesMinor('thirty')).toBeUndefined();
    expect(parseKubernetesMinor(33)).toBeUndefined();
  });
});

describe('ClusterWorld: list + watch cache', () => {
  it('keeps only what is read: no managedFields, status or unread annotations, from lists and from watch events alike', async () => {
    const heavy = (name: string) => {
      const r = route([{ name: 'r0' }], name, 'team-a');
      r.metadata = {
        ...r.metadata,
        labels: { app: 'chat' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': JSON.stringify(r), 'aigw-admission.io/inject': 'false' },
        managedFields: [{ manager: 'kubectl-client-side-apply', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:spec': {} } }],
      };
      return { ...r, status: { parents: [{ conditions: [{ type: 'Accepted', status: 'True' }] }] } };
    };
    const slim = (name: string, resourceVersion: string) => {
      const r = route([{ name: 'r0' }], name, 'team-a');
      return { ...r, metadata: { ...r.metadata, resourceVersion, labels: { app: 'chat' }, annotations: { 'aigw-admission.io/inject': 'false' } } };
    };
    fake = fakeCluster();
    await fake.start();
    fake.add(heavy('listed'));
    const { world: w } = await started();
    await w.until((x) => x.ready());
    expect(w.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'listed')).toEqual(slim('listed', '1001'));
    // 100 objects per page by default (LIST_PAGE_SIZE: a page dies young).
    expect(fake.calls.filter((c) => c.kind === 'list' && c.path.endsWith('/aigatewayroutes')).map((c) => c.query)).toEqual([{ limit: '100' }]);
    await w.until(watching);
    fake.add(heavy('watched'));
    await w.until((x) => x.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'watched') !== undefined);
    expect(w.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'watched')).toEqual(slim('watched', '1002'));
  });

  it('lists in pages, follows ADDED / MODIFIED / DELETED / BOOKMARK, and relists after a 410 Expired', async () => {
    fake = fakeCluster();
    await fake.start();
    fake.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    fake.add(route([{ name: 'r0' }], 'embed', 'team-a'));
    fake.add(route([{ name: 'r0' }], 'chat', 'team-b'));
    const { world: w, logger } = await started({ pageSize: 2 });
    expect(w.ready()).toBe(false);
    expect(w.syncedAt()).toBeUndefined();
    // Before its first list the cache cannot say an AIServiceBackend is missing; after it, it can (even with none).
    expect(w.covers(WORLD_KEYS.aiServiceBackend)).toBe(false);

    await w.until((x) => x.ready());
    expect(w.covers(WORLD_KEYS.aiServiceBackend)).toBe(true);
    expect(w.list(WORLD_KEYS.aiServiceBackend)).toEqual([]);
    expect(w.covers('example.com/NotWatched')).toBe(false);
    expect(w.kubernetesMinor()).toBe(33);
    expect(names(w, WORLD_KEYS.aiGatewayRoute)).toEqual(['team-a/chat', 'team-a/embed', 'team-b/chat']);
    expect(w.list(WORLD_KEYS.aiGatewayRoute, 'team-b')).toHaveLength(1);
    // Three routes at two per page: two list calls, the second with the continue token of the first.
    const routeLists = fake.calls.filter((c) => c.kind === 'list' && c.path === '/apis/aigateway.envoyproxy.io/v1beta1/aigatewayroutes');
    expect(routeLists.map((c) => c.query)).toEqual([{ limit: '2' }, { limit: '2', continue: '2' }]);
    expect(fake.count('version')).toBe(1);
    expect(logger.events('kubernetes_version')[0]!.obj).toEqual({ event: 'kubernetes_version', gitVersion: 'v1.33.4-eks-1', minor: 33 });
    expect(logger.events('cache_synced')).toHaveLength(1);

    await fake.until(() => fake!.openWatches() === 4);
    await w.until(watching);
    const watch = fake.calls.find((c) => c.kind === 'watch' && c.path.endsWith('/aigatewayroutes'))!;
    expect(watch.query).toEqual({ watch: 'true', resourceVersion: '1003', allowWatchBookmarks: 'true', timeoutSeconds: '300' });
    expect(w.syncedAt()).toEqual(T0);

    fake.add(route([{ name: 'r0' }], 'vision', 'team-a'));
    await w.until((x) => x.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'vision') !== undefined);
    fake.modify(route([{ name: 'r0' }, { name: 'r1' }], 'chat', 'team-a'));
    await w.until((x) => (x.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'chat')!.spec as { rules: unknown[] }).rules.length === 2);
    fake.remove(route([], 'embed', 'team-a'));
    await w.until((x) => x.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'embed') === undefined);
    expect(names(w, WORLD_KEYS.aiGatewayRoute)).toEqual(['team-a/chat', 'team-a/vision', 'team-b/chat']);
    expect(w.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'chat')!.metadata!.resourceVersion).toBe('1005');

    fake.add(patchPolicy('other', 'x', 'team-c')); // moves the resourceVersion on without touching routes
    fake.bookmark(AIGW, 'aigatewayroutes', 'AIGatewayRoute');
    await w.until((x) => x.status().find((s) => s.key === WORLD_KEYS.aiGatewayRoute)!.resourceVersion === '1007');

    // Compaction while the watches are open: ERROR 410 Expired, then a relist. A route deleted in the gap is gone after it.
    fake.holdLists();
    fake.compact();
    await fake.until(() => fake!.count('list', 'aigatewayroutes') === 3);
    fake.remove(route([], 'vision', 'team-a'));
    fake.releaseLists();
    // Two routes left: one page this time.
    await fake.until(() => fake!.openWatches() === 4);
    expect(fake.count('list', 'aigatewayroutes')).toBe(3);
    await w.until((x) => x.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'vision') === undefined && watching(x));
    expect(names(w, WORLD_KEYS.aiGatewayRoute)).toEqual(['team-a/chat', 'team-b/chat']);
    expect(logger.events('cache_watch_expired').map((l) => l.obj.kind).sort()).toEqual([
      WORLD_KEYS.aiGatewayRoute,
      WORLD_KEYS.aiServiceBackend,
      WORLD_KEYS.backendTrafficPolicy,
      WORLD_KEYS.envoyPatchPolicy,
    ]);
    // The relist is the only new list: a watch that ends normally resumes from its resourceVersion instead.
    const rewatch = fake.calls.filter((c) => c.kind === 'watch' && c.path.endsWith('/aigatewayroutes')).at(-1)!;
    expect(rewatch.query.resourceVersion).toBe('1008');
    expect(w.ready()).toBe(true);
  });

  it('treats a kind whose CRD is missing (404) as empty and synced, says so once, and picks it up once installed', async () => {
    fake = fakeCluster();
    await fake.start();
    const { world: w, logger } = await started({ notInstalledRetryMs: 2 });
    // The kind is looked for again every 2 ms (listing, then not-installed): wait for a moment it is between looks. The
    // checks below are synchronous, so nothing runs between that moment and them.
    const backendState = (x: ClusterWorld) => x.status().find((s) => s.key === WORLD_KEYS.backend)!.state;
    await w.until((x) => x.ready() && backendState(x) === 'not-installed');
    expect(w.list(WORLD_KEYS.backend)).toEqual([]);
    // No CRD, no Backend can exist: a reference to one is known not to resolve.
    expect(w.covers(WORLD_KEYS.backend)).toBe(true);
    await fake.until(() => fake!.count('list', 'backends') >= 3);
    expect(logger.events('cache_kind_not_installed').map((l) => [l.level, l.obj, l.msg])).toEqual([
      [
        'warn',
        { event: 'cache_kind_not_installed', kind: WORLD_KEYS.backend, tried: ['gateway.envoyproxy.io/v1alpha1 backends'], retryInMs: 2 },
        'CRD not installed: treating the kind as empty and looking again periodically',
      ],
      // The fake has no Gateway API either.
      [
        'warn',
        { event: 'cache_kind_not_installed', kind: WORLD_KEYS.httpRoute, tried: ['gateway.networking.k8s.io/v1 httproutes'], retryInMs: 2 },
        'CRD not installed: treating the kind as empty and looking again periodically',
      ],
    ]);

    fake.install(EG, 'backends', 'Backend');
    fake.add({ apiVersion: EG, kind: 'Backend', metadata: { name: 'openai', namespace: 'team-a' }, spec: {} });
    await w.until((x) => x.get(WORLD_KEYS.backend, 'team-a', 'openai') !== undefined);
    expect(logger.events('cache_kind_installed')).toHaveLength(1);
  });

  it('falls back to v1alpha1 when an older AI Gateway serves only that version', async () => {
    fake = new FakeApiServer();
    fake.install('aigateway.envoyproxy.io/v1alpha1', 'aigatewayroutes', 'AIGatewayRoute');
    await fake.start();
    fake.add({ ...route([]), apiVersion: 'aigateway.envoyproxy.io/v1alpha1' });
    const { world: w } = await started();
    await w.until((x) => x.ready());
    expect(names(w, WORLD_KEYS.aiGatewayRoute)).toEqual(['team-a/chat']);
    expect(w.status().find((s) => s.key === WORLD_KEYS.aiGatewayRoute)!.version).toBe('v1alpha1');
    await fake.until(() => fake!.openWatches('aigatewayroutes') === 1);
    expect(fake.calls.filter((c) => c.kind === 'watch').map((c) => c.path)).toEqual(['/apis/aigateway.envoyproxy.io/v1alpha1/aigatewayroutes']);
  });
});

describe('reviews read the cache, never the API server', () => {
  it('answers 1,000 reviews from memory: the fake sees no call', async () => {
    fake = fakeCluster();
    await fake.start();
    fake.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    const { world: w } = await started();
    await w.until((x) => x.ready() && watching(x));
    await fake.until(() => fake!.openWatches() === 4);
    const deps: ReviewDeps = { policies: new PolicySet([routeLookup]), world: w, now: () => T0, logger: recordingLogger() };
    const callsBefore = fake.calls.length;
    for (let i = 0; i < 500; i++) {
      expect(review(admissionReview(patchPolicy('p', 'chat')), 'validate', deps).review.response.warnings).toBeUndefined();
      expect(review(admissionReview(patchPolicy('p', 'nope')), 'validate', deps).review.response.warnings).toEqual([
        '[test-route-lookup] spec.targetRouteName: no AIGatewayRoute team-a/nope',
      ]);
    }
    expect(fake.calls.length).toBe(callsBefore);
  });
});

describe('staleness: the API server goes away mid-watch', () => {
  it('keeps answering from the last synced state, warns once it is older than staleAfterSeconds, stays ready, recovers', async () => {
    fake = fakeCluster();
    await fake.start();
    fake.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    let clock = T0;
    const { world: w, logger } = await started({ now: () => clock });
    await w.until((x) => x.ready() && watching(x));
    const deps = (): ReviewDeps => ({ policies: new PolicySet([routeLookup]), world: w, now: () => clock, logger: recordingLogger(), staleAfterSeconds: 300 });
    const warnings = (name: string) => review(admissionReview(patchPolicy('p', name)), 'validate', deps()).review.response.warnings;

    clock = new Date(T0.getTime() + 3_600_000); // an hour of healthy watching: still current
    expect(warnings('chat')).toBeUndefined();
    expect(w.syncedAt()).toEqual(clock);

    const cutAt = clock;
    const port = fake.port;
    await fake.cut();
    await w.until((x) => x.status().every((s) => s.state !== 'watching'));
    fake.add(route([{ name: 'r0' }], 'late', 'team-a')); // written while we are cut off
    expect(w.ready()).toBe(true);
    expect(w.syncedAt()).toEqual(cutAt);

    clock = new Date(cutAt.getTime() + 299_000);
    expect(warnings('chat')).toBeUndefined();
    clock = new Date(cutAt.getTime() + 301_500);
    const stale =
      '[cluster-cache] lookups of other objects used the cluster state as last synced 5m1s ago (2026-11-23T13:00:00.000Z), ' +
      'older than cache.staleAfterSeconds 300: the webhook has lost its watch on the API server';
    expect(warnings('chat')).toEqual([stale]);
    expect(warnings('late')).toEqual(['[test-route-lookup] spec.targetRouteName: no AIGatewayRoute team-a/late', stale]);
    // A review whose policies looked nothing up carries no cache warning.
    const noLookups: ReviewDeps = { ...deps(), policies: new PolicySet(ALL_POLICIES.filter((p) => p.id === 'stream-idle-within-request' || p.id === 'duration-syntax')) };
    expect(review(admissionReview(route([{ name: 'r0', backendRefs: [{ name: 'b' }] }])), 'validate', noLookups).review.response).not.toHaveProperty('warnings');
    await w.until(() => logger.events('cache_watch_failed').some((l) => l.obj.message === 'ECONNREFUSED'));
    expect(logger.events('cache_watch_failed').find((l) => l.obj.kind === WORLD_KEYS.aiGatewayRoute)).toMatchObject({
      level: 'warn',
      obj: { syncedAt: '2026-11-23T13:00:00.000Z' },
      msg: 'watch failed; reviews use the last synced state until it reconnects',
    });

    // Back: the watches resume from their resourceVersion (no relist) and catch up on what was written meanwhile.
    const lists = fake.count('list');
    await fake.start(port);
    await w.until((x) => x.get(WORLD_KEYS.aiGatewayRoute, 'team-a', 'late') !== undefined && watching(x));
    expect(fake.count('list') - lists).toBe(0);
    expect(warnings('late')).toBeUndefined();
    expect(w.syncedAt()).toEqual(clock);
  });
});
