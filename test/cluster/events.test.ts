import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver.js';
import { EG, FAST_RETRY, T0, fakeCluster, patchPolicy, recordingLogger, routeLookup } from './support.js';
import { KubeEventSink, eventName, type EventWriteMetrics } from '../../src/world/kube-events.js';
import { subdomainProblems } from './fake-apiserver.js';
import { ClusterWorld } from '../../src/world/cluster-world.js';
import { MemoryWorld } from '../../src/world/world.js';
import { PolicySet } from '../../src/review/policy-set.js';
import { review } from '../../src/review/review.js';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { silentLogger } from '../../src/review/deps.js';
import { ApiServerClient } from '../server/apiserver-client.js';
import { admissionReview, route } from '../helpers.js';
import type { ResourceRef } from '../../src/kube/types.js';

let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

const regarding: ResourceRef = { apiVersion: EG, kind: 'EnvoyPatchPolicy', namespace: 'team-a', name: 'p' };
const miss = { type: 'Warning' as const, reason: 'RouteLookupMiss', message: 'no AIGatewayRoute team-a/nope' };
const expectedBody = {
  apiVersion: 'events.k8s.io/v1',
  kind: 'Event',
  metadata: { name: 'p.18eaaacd413b8000', namespace: 'team-a' },
  eventTime: '2026-11-23T12:00:00.000000Z',
  type: 'Warning',
  reason: 'RouteLookupMiss',
  action: 'Admission',
  note: 'no AIGatewayRoute team-a/nope',
  regarding: { apiVersion: EG, kind: 'EnvoyPatchPolicy', name: 'p', namespace: 'team-a' },
  reportingController: 'aigw-admission',
  reportingInstance: 'aigw-admission-6f7c9-x2k4q',
};

function counting(): EventWriteMetrics & { results: string[] } {
  const results: string[] = [];
  return { results, eventWrite: (r) => results.push(r) };
}

async function sinkOn(options: Partial<ConstructorParameters<typeof KubeEventSink>[0]> = {}) {
  fake = fakeCluster();
  await fake.start();
  const logger = recordingLogger();
  const metrics = counting();
  let clock = T0;
  const sink = new KubeEventSink({
    kubeConfig: fake.kubeConfig(),
    logger,
    metrics,
    reportingInstance: 'aigw-admission-6f7c9-x2k4q',
    now: () => clock,
    ...options,
  });
  return { sink, logger, metrics, advance: (ms: number) => (clock = new Date(clock.getTime() + ms)) };
}

describe('KubeEventSink: events.k8s.io/v1 Events', () => {
  it('writes the exact Event body to the regarding object namespace', async () => {
    const { sink, metrics } = await sinkOn();
    sink.emit(regarding, miss);
    await sink.idle();
    expect(fake!.createdEvents).toEqual([expectedBody]);
    expect(fake!.calls.filter((c) => c.kind === 'event').map((c) => c.path)).toEqual(['/apis/events.k8s.io/v1/namespaces/team-a/events']);
    expect(metrics.results).toEqual(['created']);
  });

  it('writes a burst of the same Event once per window, and again after it', async () => {
    const { sink, metrics, advance } = await sinkOn({ dedupWindowMs: 60_000 });
    for (let i = 0; i < 50; i++) sink.emit(regarding, miss);
    sink.emit(regarding, { ...miss, message: 'no AIGatewayRoute team-a/other' });
    sink.emit({ ...regarding, name: 'q' }, miss);
    await sink.idle();
    expect(fake!.createdEvents.map((e) => [(e.regarding as { name: string }).name, e.note])).toEqual([
      ['p', 'no AIGatewayRoute team-a/nope'],
      ['p', 'no AIGatewayRoute team-a/other'],
      ['q', 'no AIGatewayRoute team-a/nope'],
    ]);
    expect(metrics.results.filter((r) => r === 'deduplicated')).toHaveLength(49);
    advance(59_999);
    sink.emit(regarding, miss);
    advance(1);
    sink.emit(regarding, miss);
    await sink.idle();
    expect(fake!.createdEvents).toHaveLength(4);
  });

  it('keeps at most maxInFlight writes open and drops (and logs) beyond maxQueued', async () => {
    const { sink, logger, metrics } = await sinkOn({ maxInFlight: 1, maxQueued: 1 });
    fake!.holdEvents();
    sink.emit(regarding, { ...miss, message: 'a' });
    sink.emit(regarding, { ...miss, message: 'b' });
    sink.emit(regarding, { ...miss, message: 'c' });
    await fake!.until(() => fake!.count('event') === 1);
    expect(metrics.results).toEqual(['dropped']);
    expect(logger.events('kube_event_dropped').map((l) => [l.level, l.obj.reason, l.obj.queued])).toEqual([['warn', 'RouteLookupMiss', 1]]);
    fake!.releaseEvents();
    await fake!.until(() => fake!.count('event') === 2);
    fake!.releaseEvents();
    await sink.idle();
    expect(fake!.createdEvents.map((e) => e.note)).toEqual(['a', 'b']);
  });

  it('logs a refused write and never throws; the same Event is tried again next time', async () => {
    const { sink, logger, metrics } = await sinkOn();
    fake!.eventStatus = 403;
    expect(() => sink.emit(regarding, miss)).not.toThrow();
    await sink.idle();
    expect(logger.events('kube_event_failed').map((l) => [l.level, l.obj, l.msg])).toEqual([
      [
        'warn',
        {
          event: 'kube_event_failed',
          reason: 'RouteLookupMiss',
          regarding: { apiVersion: EG, kind: 'EnvoyPatchPolicy', name: 'p', namespace: 'team-a' },
          message: 'HTTP 403: events.events.k8s.io is forbidden',
        },
        'Event not written',
      ],
    ]);
    fake!.eventStatus = 201;
    sink.emit(regarding, miss);
    await sink.idle();
    // The second Event made by this sink: the same millisecond, so the name's last hex digit tells them apart.
    expect(fake!.createdEvents).toEqual([{ ...expectedBody, metadata: { name: 'p.18eaaacd413b8001', namespace: 'team-a' } }]);
    expect(metrics.results).toEqual(['failed', 'created']);
  });

  it('names each Event <object>.<hex> as client-go does: unique per Event, a valid name even for the longest object name', () => {
    expect([eventName('p', T0, 0), eventName('p', T0, 1)]).toEqual(['p.18eaaacd413b8000', 'p.18eaaacd413b8001']);
    const long = eventName(`${'a'.repeat(236)}-${'b'.repeat(16)}`, T0, 7);
    expect([long, long.length, subdomainProblems(long)]).toEqual([`${'a'.repeat(236)}.18eaaacd413b8007`, 253, []]);
  });

  it('truncates a note over the 1 KiB API limit', async () => {
    const { sink } = await sinkOn();
    sink.emit(regarding, { ...miss, message: 'x'.repeat(2000) });
    await sink.idle();
    expect(fake!.createdEvents[0]!.note).toBe(`${'x'.repeat(1021)}...`);
  });
});

describe('review() → Events: after the verdict, never on dry run', () => {
  it('writes no Event for a dry-run review and one for the same review without dry run', async () => {
    const { sink } = await sinkOn();
    const deps = { policies: new PolicySet([routeLookup]), world: new MemoryWorld(), now: () => T0, logger: silentLogger, events: sink };
    const dry = review(admissionReview(patchPolicy('p', 'nope'), 'CREATE', null, true), 'validate', deps);
    expect(dry.review.response.warnings).toEqual(['[test-route-lookup] spec.targetRouteName: no AIGatewayRoute team-a/nope']);
    await sink.idle();
    expect(fake!.count('event')).toBe(0);
    review(admissionReview(patchPolicy('p', 'nope')), 'validate', deps);
    await sink.idle();
    expect(fake!.createdEvents).toEqual([{ ...expectedBody, reportingInstance: 'aigw-admission-6f7c9-x2k4q' }]);
  });
});

describe('serve in cluster mode (the fake API server as the cluster)', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('is not ready before the first sync, ready after; reviews look up the cache and write Events; close stops the watches', async () => {
    fake = fakeCluster();
    await fake.start();
    fake.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    fake.holdLists();
    const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-cluster-'));
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      tlsDir,
      standalone: false,
      kubeConfig: fake.kubeConfig(),
      podName: 'aigw-admission-6f7c9-x2k4q',
      logger: silentLogger,
      policies: [routeLookup],
      now: () => T0,
      cluster: { retry: FAST_RETRY },
    });
    const client = new ApiServerClient(server.port, readFileSync(join(tlsDir, 'ca.crt'), 'utf8'));
    try {
      const notReady = await client.raw('GET', '/readyz');
      expect([notReady.status, JSON.parse(notReady.body)]).toEqual([503, { ready: false, reasons: ['cluster cache not synced yet'] }]);

      fake.releaseLists();
      const world = server.world as ClusterWorld;
      await world.until((w) => w.ready());
      const ready = await client.raw('GET', '/readyz');
      expect([ready.status, JSON.parse(ready.body)]).toEqual([200, { ready: true, reasons: [] }]);
      await fake.until(() => fake!.openWatches() === 5);

      const calls = fake.calls.filter((c) => c.kind !== 'event').length;
      expect((await client.admit('/validate', admissionReview(patchPolicy('p', 'chat')))).review.response.warnings).toBeUndefined();
      const dry = await client.admit('/validate', admissionReview(patchPolicy('p', 'nope'), 'CREATE', null, true));
      expect(dry.review.response.warnings).toEqual(['[test-route-lookup] spec.targetRouteName: no AIGatewayRoute team-a/nope']);
      await server.events!.idle();
      expect(fake.count('event')).toBe(0);
      await client.admit('/validate', admissionReview(patchPolicy('p', 'nope')));
      await fake.until(() => fake!.createdEvents.length === 1);
      expect(fake.createdEvents[0]).toEqual(expectedBody);
      expect(fake.calls.filter((c) => c.kind !== 'event').length).toBe(calls);

      const metrics = (await client.raw('GET', '/metrics')).body;
      expect(metrics).toContain('\naigw_admission_cache_synced_age_seconds 0\n');
      await server.events!.idle();
      expect((await client.raw('GET', '/metrics')).body).toContain('\naigw_admission_kube_events_total{result="created"} 1\n');
    } finally {
      client.close();
    }
    await server.close();
    server = undefined;
    await fake.until(() => fake!.openWatches() === 0);
  });
});
