import { describe, expect, it } from 'vitest';
import { cli, getJson, kubectlOk, rig, routeJson, scenarioNamespace } from './rig.js';

interface Finding {
  policy: string;
  mode: string;
  resource: { namespace: string; name: string };
}
interface Report {
  apiVersion: string;
  kind: string;
  metadata: { name: string; resourceVersion: string; labels: Record<string, string>; annotations: Record<string, string> };
  source: string;
  summary: { pass: number; fail: number; warn: number; error: number; skip: number };
  results: Array<{ policy: string; result: string; resources: Array<{ name: string }> }>;
}

const route = (ns: string, name: string) => routeJson(ns, name, [{ name: 'chat', matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: name }] }], backendRefs: [{ name: 'openai' }] }]);

/** `audit --write-reports` of one namespace; its JSON findings and what it said on stderr. */
function audit(ns: string): { findings: Finding[]; stderr: string; code: number | null } {
  const r = cli(['audit', '--namespace', ns, '--config', rig().configPath, '--write-reports', '-o', 'json']);
  return { findings: JSON.parse(r.stdout) as Finding[], stderr: r.stderr, code: r.code };
}

describe('reports written and updated by `audit`', () => {
  it('writes an openreports.io Report (the cluster serves both APIs) that agrees with the findings, then updates it in place', () => {
    const ns = scenarioNamespace('reports');
    kubectlOk(['apply', '-f', '-'], { input: route(ns, 'chat') });

    const first = audit(ns);
    expect(first.stderr.split('\n').filter((l) => !l.startsWith('note:'))).toEqual([`openreports.io/v1alpha1 Reports created in ${ns}`, '']);
    const report = getJson<Report>(['-n', ns, 'reports.openreports.io', 'aigw-admission']);
    expect([report.apiVersion, report.kind, report.source, report.metadata.labels]).toEqual(['openreports.io/v1alpha1', 'Report', 'aigw-admission', { 'app.kubernetes.io/managed-by': 'aigw-admission' }]);
    expect(Date.parse(report.metadata.annotations['aigw-admission.io/audited-at']!)).toBeGreaterThan(Date.now() - 10 * 60_000);
    // The report says what the audit printed: a result per finding (deny → fail, else warn), a pass per clean object.
    const mine = first.findings.filter((f) => f.resource.namespace === ns);
    const count = (mode: (m: string) => boolean) => mine.filter((f) => mode(f.mode)).length;
    expect(report.summary).toEqual({ pass: mine.length === 0 ? 1 : 0, fail: count((m) => m === 'deny'), warn: count((m) => m !== 'deny'), error: 0, skip: 0 });
    expect(report.results.filter((r) => r.result !== 'pass').map((r) => r.policy).sort()).toEqual(mine.map((f) => f.policy).sort());
    // Nothing was written in the other API.
    expect(getJson<{ items: unknown[] }>(['-n', ns, 'policyreports.wgpolicyk8s.io']).items).toEqual([]);

    kubectlOk(['apply', '-f', '-'], { input: route(ns, 'embed') });
    const second = audit(ns);
    expect(second.stderr.split('\n').filter((l) => !l.startsWith('note:'))).toEqual([`openreports.io/v1alpha1 Reports updated in ${ns}`, '']);
    const updated = getJson<Report>(['-n', ns, 'reports.openreports.io', 'aigw-admission']);
    expect(updated.metadata.resourceVersion).not.toBe(report.metadata.resourceVersion);
    const names = new Set(updated.results.flatMap((r) => r.resources.map((x) => x.name)));
    expect([...names].sort()).toEqual(['chat', 'embed']);
    expect(getJson<{ items: unknown[] }>(['-n', ns, 'reports.openreports.io']).items).toHaveLength(1);
  });
});
