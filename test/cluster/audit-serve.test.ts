import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import type { ClusterWorld } from '../../src/world/cluster-world.js';
import { silentLogger } from '../../src/review/deps.js';
import injectPolicy from '../../policies/inject-extproc-sidecar.js';
import { route } from '../helpers.js';
import { ApiServerClient } from '../server/apiserver-client.js';
import type { FakeApiServer } from './fake-apiserver.js';
import { FAST_RETRY, T0, patchPolicy, routeLookup } from './support.js';
import { REPORTS, auditCluster, proxyPod } from './audit-support.js';

let fake: FakeApiServer | undefined;
let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
  await fake?.cut().catch(() => undefined);
  fake = undefined;
});

/** A scheduler the test fires by hand: no timers, no sleeps. */
function manualSchedule() {
  const pending: { run: () => void; ms: number; cancelled: boolean }[] = [];
  return {
    pending,
    schedule: (run: () => void, ms: number) => {
      const entry = { run, ms, cancelled: false };
      pending.push(entry);
      return () => (entry.cancelled = true);
    },
  };
}

describe('background audit in serve (cluster mode)', () => {
  it('judges the cache on each trigger, updates the PolicyReports in place and exports the findings per run', async () => {
    fake = auditCluster();
    await fake.start();
    fake.add(route([{ name: 'r0' }], 'chat', 'team-a'));
    fake.add(patchPolicy('broken', 'nope', 'team-a'));
    fake.add(proxyPod('envoy-1'));
    const dir = mkdtempSync(join(tmpdir(), 'aigw-audit-serve-'));
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'audit:\n  intervalSeconds: 120\n');
    const timer = manualSchedule();
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      tlsDir: join(dir, 'certs'),
      configPath: config,
      standalone: false,
      kubeConfig: fake.kubeConfig(),
      logger: silentLogger,
      policies: [routeLookup, injectPolicy],
      now: () => T0,
      cluster: { retry: FAST_RETRY },
      shutdownDelayMs: 0,
      audit: { schedule: timer.schedule },
    });
    const world = server.world as ClusterWorld;
    await world.until((w) => w.ready() && w.list('/Pod').length === 1);
    expect(timer.pending.map((p) => p.ms)).toEqual([120_000]);
    const listsBefore = fake.count('list');

    timer.pending[0]!.run();
    await server.audit!.runOnce();
    await fake.until(() => timer.pending.length === 2);
    // Read from the cache: the run lists nothing but its own reports.
    // The first run finds the report API the cluster serves (openreports.io is not installed here), then lists its own reports.
    expect(fake.calls.filter((c) => c.kind === 'list').slice(listsBefore).map((c) => c.path)).toEqual([
      '/apis/openreports.io/v1alpha1/reports',
      '/apis/wgpolicyk8s.io/v1alpha2/policyreports',
      '/apis/wgpolicyk8s.io/v1alpha2/policyreports',
    ]);
    expect(fake.stored(REPORTS, 'policyreports').map((r) => [r.metadata!.namespace, r.summary])).toEqual([
      ['envoy-gateway-system', { pass: 0, fail: 0, warn: 1, error: 0, skip: 0 }],
      ['team-a', { pass: 1, fail: 0, warn: 1, error: 0, skip: 0 }],
    ]);
    const client = new ApiServerClient(server.port, readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8'));
    try {
      const metrics = (await client.raw('GET', '/metrics')).body;
      expect(metrics.split('\n').filter((l) => l.startsWith('aigw_admission_audit_findings{'))).toEqual([
        'aigw_admission_audit_findings{policy="test-route-lookup",mode="warn"} 1',
        'aigw_admission_audit_findings{policy="sidecar-drift",mode="warn"} 1',
      ]);
      expect(metrics).toMatch(/\naigw_admission_audit_duration_seconds \d+(\.\d+)?(e-\d+)?\n/);

      // The route appears, the restarted proxy has its sidecar: the next run finds nothing and the gauge empties.
      fake.add(route([{ name: 'r0' }], 'nope', 'team-a'));
      fake.remove(proxyPod('envoy-1'));
      fake.add(proxyPod('envoy-2', { sidecar: 'current' }));
      await world.until((w) => w.list('/Pod').map((p) => p.metadata!.name).join() === 'envoy-2' && w.list('aigateway.envoyproxy.io/AIGatewayRoute').length === 2);
      const creates = fake.count('create');
      timer.pending[1]!.run();
      await server.audit!.runOnce();
      expect(fake.count('create')).toBe(creates);
      expect(fake.stored(REPORTS, 'policyreports').map((r) => [r.metadata!.namespace, r.summary])).toEqual([
        ['envoy-gateway-system', { pass: 1, fail: 0, warn: 0, error: 0, skip: 0 }],
        ['team-a', { pass: 3, fail: 0, warn: 0, error: 0, skip: 0 }],
      ]);
      const after = (await client.raw('GET', '/metrics')).body;
      expect(after.split('\n').filter((l) => l.startsWith('aigw_admission_audit_findings{'))).toEqual([]);
    } finally {
      client.close();
    }
    await fake.until(() => timer.pending.length === 3);
    await server.close();
    server = undefined;
    expect(timer.pending[2]!.cancelled).toBe(true);
  });

  it('is off in standalone mode and with intervalSeconds 0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-audit-serve-'));
    const timer = manualSchedule();
    server = await startServer({ host: '127.0.0.1', port: 0, tlsDir: join(dir, 'certs'), standalone: true, logger: silentLogger, audit: { schedule: timer.schedule } });
    expect([server.audit, timer.pending]).toEqual([undefined, []]);
    await server.close();
    server = undefined;

    fake = auditCluster();
    await fake.start();
    const config = join(dir, 'config.yaml');
    writeFileSync(config, 'audit:\n  intervalSeconds: 0\n');
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      tlsDir: join(dir, 'certs'),
      configPath: config,
      standalone: false,
      kubeConfig: fake.kubeConfig(),
      logger: silentLogger,
      cluster: { retry: FAST_RETRY },
      shutdownDelayMs: 0,
      audit: { schedule: timer.schedule },
    });
    await (server.world as ClusterWorld).until((w) => w.ready());
    expect([server.audit, timer.pending]).toEqual([undefined, []]);
    // Without the audit the proxy pods are not cached (nothing reads them).
    expect(fake.count('list', 'pods')).toBe(0);
  });
});
