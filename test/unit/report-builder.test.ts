import { describe, expect, it } from 'vitest';
import { MAX_RESULTS, ReportBuilder, buildReports } from '../../src/audit/policy-report.js';
import type { Finding, KubeObject } from '../../src/kube/types.js';

const NOW = new Date('2026-11-23T12:00:00Z');
const ROUTE = { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute' };
const object = (namespace: string, name: string): KubeObject => ({ ...ROUTE, metadata: { namespace, name, uid: `uid-${name}` } });
const finding = (namespace: string, name: string, message: string): Finding => ({
  policy: 'unresolved-backend',
  mode: 'warn',
  resource: { ...ROUTE, namespace, name },
  path: 'spec.rules[0].backendRefs[0]',
  message,
});

describe('ReportBuilder (the reports built as the audit streams)', () => {
  it('gives the reports of buildReports when each object comes after its findings, passes cut to what the findings leave', () => {
    // team-b: clean objects first, then three with findings, in the audit's order (an object's findings, then the object).
    const clean = Array.from({ length: MAX_RESULTS + 5 }, (_, i) => object('team-b', `clean-${i}`));
    const stream: Array<['finding', Finding] | ['checked', KubeObject]> = [
      ['finding', finding('team-a', 'broken', 'a')],
      ['checked', object('team-a', 'broken')],
      ['checked', object('team-a', 'fine')],
      ...clean.map((o) => ['checked', o] as ['checked', KubeObject]),
      ...['x', 'y', 'z'].flatMap((name): Array<['finding', Finding] | ['checked', KubeObject]> => [
        ['finding', finding('team-b', name, name)],
        ['checked', object('team-b', name)],
      ]),
      ['checked', object('team-c', 'alone')],
    ];
    const builder = new ReportBuilder(NOW);
    for (const [what, item] of stream) {
      if (what === 'finding') builder.finding(item);
      else builder.checked(item);
    }
    const streamed = builder.reports();
    const batch = buildReports(
      stream.filter(([w]) => w === 'finding').map(([, f]) => f as Finding),
      stream.filter(([w]) => w === 'checked').map(([, o]) => o as KubeObject),
      NOW,
    );
    expect([...streamed]).toEqual([...batch]);
    expect([...streamed.keys()]).toEqual(['team-a', 'team-b', 'team-c']);
    const teamB = streamed.get('team-b')!;
    expect(teamB.summary).toEqual({ pass: MAX_RESULTS + 5, fail: 0, warn: 3, error: 0, skip: 0 });
    expect(teamB.results).toHaveLength(MAX_RESULTS);
    expect(teamB.results.slice(0, 4).map((r) => [r.result, r.resources[0]!.name])).toEqual([
      ['warn', 'x'],
      ['warn', 'y'],
      ['warn', 'z'],
      ['pass', 'clean-0'],
    ]);
    expect(teamB.results.at(-1)!.resources[0]!.name).toBe(`clean-${MAX_RESULTS - 4}`);
    expect(streamed.get('team-a')!.results.map((r) => [r.result, r.resources[0]!.name])).toEqual([
      ['warn', 'broken'],
      ['pass', 'fine'],
    ]);
  });
});
