import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Metrics } from '../../src/observe/metrics.js';
import { certificateExpiry } from '../../src/server/serve.js';
import { createCertBundle } from '../../src/tls/certs.js';
import { ROOT } from '../helpers.js';

/** Every metric the webhook exports under its own prefix, with its type and labels: dashboards and alerts depend on them. */
const OWN_METRICS: Record<string, { type: string; labels: string[] }> = {
  aigw_admission_build_info: { type: 'gauge', labels: ['version'] },
  aigw_admission_requests_total: { type: 'counter', labels: ['endpoint', 'kind', 'operation', 'allowed', 'dry_run'] },
  aigw_admission_review_duration_seconds: { type: 'histogram', labels: ['endpoint'] },
  aigw_admission_findings_total: { type: 'counter', labels: ['policy', 'mode'] },
  aigw_admission_policy_errors_total: { type: 'counter', labels: ['policy'] },
  aigw_admission_policy_abandoned_total: { type: 'counter', labels: ['policy'] },
  aigw_admission_skipped_findings_total: { type: 'counter', labels: ['policy'] },
  aigw_admission_connections_dropped_total: { type: 'counter', labels: ['reason'] },
  aigw_admission_cert_reloads_total: { type: 'counter', labels: ['result'] },
  aigw_admission_http_errors_total: { type: 'counter', labels: ['endpoint', 'code'] },
  aigw_admission_sidecar_injections_total: { type: 'counter', labels: ['reason'] },
  aigw_admission_sidecar_injection_skipped_total: { type: 'counter', labels: ['reason'] },
  aigw_admission_route_lookup_misses_total: { type: 'counter', labels: ['reason'] },
  aigw_admission_observations_total: { type: 'counter', labels: ['policy', 'event', 'reason'] },
  aigw_admission_kube_events_total: { type: 'counter', labels: ['result'] },
  aigw_admission_audit_findings: { type: 'gauge', labels: ['policy', 'mode'] },
  aigw_admission_audit_duration_seconds: { type: 'gauge', labels: [] },
  aigw_admission_audit_skipped_findings: { type: 'gauge', labels: ['policy'] },
  aigw_admission_ready: { type: 'gauge', labels: [] },
  aigw_admission_cache_synced_age_seconds: { type: 'gauge', labels: [] },
  aigw_admission_cache_age_seconds: { type: 'gauge', labels: ['kind'] },
  aigw_admission_certificate_expiry_seconds: { type: 'gauge', labels: ['certificate'] },
};

/** The label name as a help text says it: dry_run may be written "dry run", the others appear as they are. */
const helpMentions = (help: string, label: string) => help.includes(label) || help.includes(label.replace('_', ' '));

describe('metrics', () => {
  const metrics = new Metrics({ processMetrics: true, version: '9.8.7' });
  const exported = metrics.registry.getMetricsAsArray() as unknown as Array<{ name: string; help: string; type: string; labelNames: string[] }>;

  it('exports exactly the listed metrics under the project prefix, with these types and label sets', () => {
    const own = Object.fromEntries(exported.filter((m) => m.name.startsWith('aigw_admission_')).map((m) => [m.name, { type: m.type, labels: m.labelNames }]));
    expect(own).toEqual(OWN_METRICS);
  });

  it("names process and Node.js metrics as prom-client's defaults, unprefixed", () => {
    const names = exported.map((m) => m.name);
    for (const standard of ['process_cpu_seconds_total', 'process_resident_memory_bytes', 'process_start_time_seconds', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes', 'nodejs_gc_duration_seconds']) {
      expect(names).toContain(standard);
    }
    expect(names.filter((n) => !n.startsWith('aigw_admission_') && !n.startsWith('process_') && !n.startsWith('nodejs_'))).toEqual([]);
  });

  it('says in every help text what each label is', () => {
    const unmentioned = exported
      .filter((m) => m.name.startsWith('aigw_admission_'))
      .flatMap((m) => m.labelNames.filter((label) => !helpMentions(m.help, label)).map((label) => `${m.name}: ${label}`));
    expect(unmentioned).toEqual([]);
  });

  it('lists every metric and its labels in the README', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    for (const [name, { labels }] of Object.entries(OWN_METRICS)) {
      expect({ name, listed: readme.includes(`\`${name}${labels.length ? `{${labels.join(',')}}` : ''}\``) }).toEqual({ name, listed: true });
    }
  });

  it('exports build_info with the version, the counters with reused label sets, and the gauges read on scrape', async () => {
    metrics.reviewed({ endpoint: 'validate', kind: 'AIGatewayRoute', operation: 'CREATE', allowed: false, dryRun: false }, 0.001);
    metrics.reviewed({ endpoint: 'validate', kind: 'AIGatewayRoute', operation: 'CREATE', allowed: false, dryRun: false }, 0.001);
    metrics.finding('fallover-retry-missing', 'warn');
    metrics.finding('fallover-retry-missing', 'warn');
    const now = Date.now();
    metrics.observeCertificates(() => ({ serving: new Date(now + 86_400_000), ca: new Date(now - 1000) }));
    metrics.observeCacheAge(
      () => 12,
      () => [
        { kind: 'aigateway.envoyproxy.io/AIGatewayRoute', seconds: 0 },
        { kind: 'gateway.envoyproxy.io/Backend', seconds: 12 },
        { kind: '/Pod', seconds: undefined },
      ],
    );
    const text = await metrics.registry.metrics();
    expect(text).toContain('aigw_admission_build_info{version="9.8.7"} 1\n');
    expect(text).toContain('aigw_admission_requests_total{endpoint="validate",kind="AIGatewayRoute",operation="CREATE",allowed="false",dry_run="false"} 2\n');
    expect(text).toContain('aigw_admission_findings_total{policy="fallover-retry-missing",mode="warn"} 2\n');
    expect(text).toContain('aigw_admission_review_duration_seconds_count{endpoint="validate"} 2\n');
    const serving = Number(/^aigw_admission_certificate_expiry_seconds\{certificate="serving"\} (\d+)$/m.exec(text)?.[1]);
    expect(serving).toBeGreaterThan(86_400 - 600); // a day from when the test set it, less the time to get here
    expect(serving).toBeLessThanOrEqual(86_400);
    expect(text).toMatch(/^aigw_admission_certificate_expiry_seconds\{certificate="ca"\} -\d+$/m);
    expect(text).toContain('aigw_admission_cache_synced_age_seconds 12\n');
    expect(text).toContain('aigw_admission_cache_age_seconds{kind="aigateway.envoyproxy.io/AIGatewayRoute"} 0\naigw_admission_cache_age_seconds{kind="gateway.envoyproxy.io/Backend"} 12\n');
    expect(text).not.toContain('kind="/Pod"');
  });

  it('counts each label set of a review apart (the keys are made once per label set, so none may share one)', async () => {
    const fresh = new Metrics();
    const review = (endpoint: 'validate' | 'mutate', kind: string, operation: string, allowed: boolean, dryRun: boolean) => fresh.reviewed({ endpoint, kind, operation, allowed, dryRun }, 0.001);
    review('validate', 'AIGatewayRoute', 'CREATE', true, false);
    review('validate', 'AIGatewayRoute', 'CREATE', true, false);
    review('validate', 'AIGatewayRoute', 'CREATE', true, true);
    review('validate', 'AIGatewayRoute', 'UPDATE', false, false);
    review('mutate', 'AIGatewayRoute', 'CREATE', true, false);
    review('mutate', 'Pod', 'CREATE', true, false);
    review('validate', 'AIGatewayRoute', 'SOMETHING', true, false);
    const text = await fresh.registry.metrics();
    const lines = text.split('\n').filter((l) => l.startsWith('aigw_admission_requests_total{'));
    expect(lines).toEqual([
      'aigw_admission_requests_total{endpoint="validate",kind="AIGatewayRoute",operation="CREATE",allowed="true",dry_run="false"} 2',
      'aigw_admission_requests_total{endpoint="validate",kind="AIGatewayRoute",operation="CREATE",allowed="true",dry_run="true"} 1',
      'aigw_admission_requests_total{endpoint="validate",kind="AIGatewayRoute",operation="UPDATE",allowed="false",dry_run="false"} 1',
      'aigw_admission_requests_total{endpoint="mutate",kind="AIGatewayRoute",operation="CREATE",allowed="true",dry_run="false"} 1',
      'aigw_admission_requests_total{endpoint="mutate",kind="Pod",operation="CREATE",allowed="true",dry_run="false"} 1',
      'aigw_admission_requests_total{endpoint="validate",kind="AIGatewayRoute",operation="SOMETHING",allowed="true",dry_run="false"} 1',
    ]);
    expect(text).toContain('aigw_admission_review_duration_seconds_count{endpoint="validate"} 5\n');
    expect(text).toContain('aigw_admission_review_duration_seconds_count{endpoint="mutate"} 2\n');
  });

  it('leaves readiness and the cache age out, not at 0, until there is something to read (standalone, before the first sync)', async () => {
    const fresh = new Metrics();
    let age: number | undefined;
    fresh.observeCacheAge(() => age);
    const before = await fresh.registry.metrics();
    expect(before).toContain('# TYPE aigw_admission_cache_synced_age_seconds gauge\n');
    expect(before).not.toMatch(/^aigw_admission_cache_synced_age_seconds /m);
    expect(before).not.toMatch(/^aigw_admission_ready /m);
    age = 0;
    fresh.observeReadiness(() => false);
    const after = await fresh.registry.metrics();
    expect(after).toContain('\naigw_admission_cache_synced_age_seconds 0\n');
    expect(after).toContain('\naigw_admission_ready 0\n');
  });

  it('reads notAfter of the serving certificate and of the CA', () => {
    const now = new Date('2026-11-28T00:00:00Z');
    const bundle = createCertBundle({ service: 'aigw-admission', namespace: 'aigw-admission', now, validityDays: 30, caValidityDays: 90 });
    const expiry = certificateExpiry({ cert: bundle.cert, ca: bundle.caCert });
    expect(expiry.serving?.toISOString()).toBe('2026-12-28T00:00:00.000Z');
    expect(expiry.ca?.toISOString()).toBe('2027-02-26T00:00:00.000Z');
    expect(certificateExpiry({ cert: 'not a certificate', ca: '' })).toEqual({ serving: undefined, ca: undefined });
  });
});
