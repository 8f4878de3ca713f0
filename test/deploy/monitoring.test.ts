/** deploy/monitoring: every alert and dashboard expression names only metrics the webhook really exports. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Metrics } from '../../src/observe/metrics.js';
import { ROOT } from '../helpers.js';

const DIR = join(ROOT, 'deploy', 'monitoring');
/** Series Prometheus itself makes for every target. */
const PROMETHEUS_OWN = new Set(['up']);
const KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right', 'and', 'or', 'unless', 'bool', 'offset', 'inf', 'nan']);
/** Aggregation operators may stand before `by (…)` rather than before their parenthesis. */
const AGGREGATIONS = new Set(['sum', 'min', 'max', 'avg', 'group', 'stddev', 'stdvar', 'count', 'count_values', 'bottomk', 'topk', 'quantile']);

/** The metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or strings. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, '') // label matchers
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, '$1') // label lists
    .replace(/\[[^\]]*\]/g, ''); // ranges
  const names = new Set<string>();
  for (const m of stripped.matchAll(/[A-Za-z_:][A-Za-z0-9_:]*/g)) {
    const after = stripped.slice(m.index! + m[0].length).trimStart();
    if (after.startsWith('(') || KEYWORDS.has(m[0].toLowerCase()) || AGGREGATIONS.has(m[0])) continue;
    names.add(m[0]);
  }
  return [...names].sort();
}

async function exported(): Promise<Set<string>> {
  const metrics = new Metrics({ processMetrics: true });
  const names = new Set<string>(PROMETHEUS_OWN);
  for (const m of await metrics.registry.getMetricsAsJSON()) {
    names.add(m.name);
    if (String(m.type) === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${m.name}${suffix}`);
  }
  return names;
}

interface Rule { alert: string; expr: string; labels: { severity: string }; annotations: Record<string, string> }

const rules = (parse(readFileSync(join(DIR, 'prometheusrule.yaml'), 'utf8')) as { spec: { groups: { rules: Rule[] }[] } }).spec.groups.flatMap((g) => g.rules);
const dashboard = JSON.parse(readFileSync(join(DIR, 'dashboard.json'), 'utf8')) as { panels: { title: string; targets: { expr: string }[] }[] };

describe('deploy/monitoring', () => {
  it('reads metric names out of PromQL', () => {
    expect(metricNames('histogram_quantile(0.99, sum by (le, endpoint) (rate(a_bucket{x="y"}[5m]))) > 2.5')).toEqual(['a_bucket']);
    expect(metricNames('up{job="j"} == 0 or absent(up{job="j"})')).toEqual(['up']);
    expect(metricNames('min by (certificate) (c_seconds) < 14 * 86400')).toEqual(['c_seconds']);
  });

  it('alerts only on metrics the webhook exports, each with a severity and a runbook section that exists', async () => {
    const known = await exported();
    const runbook = readFileSync(join(DIR, 'runbook.md'), 'utf8');
    const anchors = new Set([...runbook.matchAll(/^## (.+)$/gm)].map((m) => m[1]!.toLowerCase()));
    for (const r of rules) {
      expect({ alert: r.alert, unknown: metricNames(r.expr).filter((n) => !known.has(n)) }).toEqual({ alert: r.alert, unknown: [] });
      expect(['critical', 'warning', 'info']).toContain(r.labels.severity);
      expect(r.annotations.runbook_url).toBe(`deploy/monitoring/runbook.md#${r.alert.toLowerCase()}`);
      expect(anchors.has(r.alert.toLowerCase())).toBe(true);
    }
    expect(rules.map((r) => r.alert)).toEqual([
      'AigwAdmissionDown',
      'AigwAdmissionNotReady',
      'AigwAdmissionLatencyNearTimeout',
      'AigwAdmissionErrors',
      'AigwAdmissionCertificateExpiresSoon',
      'AigwAdmissionCacheStale',
      'AigwAdmissionDenials',
    ]);
  });

  it('renders with kubectl kustomize: the ServiceMonitor on the metrics port, the rules, the dashboard ConfigMap for the Grafana sidecar', () => {
    const objects = parseAllDocuments(execFileSync('kubectl', ['kustomize', DIR], { encoding: 'utf8' })).map((d) => d.toJS()) as {
      kind: string;
      metadata: { name: string; namespace: string; labels: Record<string, string> };
      spec?: { endpoints?: unknown };
      data?: Record<string, string>;
    }[];
    expect(objects.map((o) => `${o.kind}/${o.metadata.namespace}/${o.metadata.name}`)).toEqual([
      'ConfigMap/aigw-admission/aigw-admission-dashboard',
      'PrometheusRule/aigw-admission/aigw-admission',
      'ServiceMonitor/aigw-admission/aigw-admission',
    ]);
    expect(objects[0]!.metadata.labels.grafana_dashboard).toBe('1');
    expect(JSON.parse(objects[0]!.data!['dashboard.json']!)).toEqual(dashboard);
    expect(objects[2]!.spec!.endpoints).toEqual([{ port: 'metrics', path: '/metrics', interval: '30s' }]);
  });

  it('draws only metrics the webhook exports', async () => {
    const known = await exported();
    const unknown = dashboard.panels.flatMap((p) => p.targets.flatMap((t) => metricNames(t.expr).filter((n) => !known.has(n)).map((n) => `${p.title}: ${n}`)));
    expect(unknown).toEqual([]);
    expect(dashboard.panels.length).toBeGreaterThanOrEqual(10);
  });
});
