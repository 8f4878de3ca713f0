/**
 * Envoy Gateway's own translator golden tests as the oracle of the model (issue 17). Each world is built from a golden
 * `.in.yaml` (its HTTPRoutes as the AIGatewayRoutes that would generate them), and the model must agree with what the
 * `.out.yaml` says Envoy Gateway built: whether a policy and its retry apply, num_retries, numAttemptsPerPriority
 * (previous_priorities), retry_on, status codes, per-try timeout, back-off, a refused policy (500), the weight-0 refs
 * dropped, and one cluster or a split. test/fixtures/envoy-gateway/translator-facts.json is a small copy of those
 * inputs and facts, so a fresh clone tests them; when ../shared is present it is checked against the golden files.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml, parseAllDocuments } from 'yaml';
import { routeFallover } from '../../src/model/fallover.js';
import { refusedValues } from '../../src/model/btp.js';
import { parseDuration } from '../../src/model/duration.js';
import { routeProviders } from '../../src/model/providers.js';
import { parseXdsName } from '../../src/model/xds-names.js';
import { HAS_SHARED, ROOT, SHARED, readJson } from '../helpers.js';
import type { KubeObject } from '../../src/kube/types.js';

interface RouteFact {
  name: string;
  trafficApplied: boolean;
  retry: Record<string, any> | null;
  loadBalancer: Record<string, unknown> | null;
  directResponse: number | null;
  settings: Array<{ weight: number | null; addressType: string | null }>;
}
interface Facts {
  cases: Record<string, { input: Record<string, KubeObject[]>; facts: RouteFact[] }>;
  xdsIr: Record<string, { settings: Array<{ weight: number; hosts: string[] }>; clusters: string[] }>;
}

const LOCAL = readJson<Facts>(join(ROOT, 'test/fixtures/envoy-gateway/translator-facts.json'));
const GOLDEN = join(SHARED, 'fixtures/envoy-gateway-testdata');

/** The same extraction the local copy was made with, from the golden `.out.yaml`. */
function factsOf(out: any): RouteFact[] {
  const res: RouteFact[] = [];
  for (const gw of Object.keys(out.xdsIR).sort()) {
    for (const l of out.xdsIR[gw].http ?? []) {
      for (const r of l.routes ?? []) {
        if (!String(r.name).startsWith('httproute/')) continue;
        const t = r.traffic;
        res.push({
          name: r.name,
          trafficApplied: t !== undefined && t !== null,
          retry: t?.retry ?? null,
          loadBalancer: t?.loadBalancer ?? null,
          directResponse: r.directResponse?.statusCode ?? null,
          settings: (r.destination?.settings ?? []).map((s: any) => ({ weight: s.weight ?? null, addressType: s.addressType ?? null })),
        });
      }
    }
  }
  return res;
}

describe.runIf(HAS_SHARED)('the local copy of the translator facts is what the golden files say', () => {
  it.each(Object.keys(LOCAL.cases))('%s', (c) => {
    const input = parseYaml(readFileSync(join(GOLDEN, `internal__gatewayapi__testdata__${c}.in.yaml`), 'utf8'));
    const out = parseYaml(readFileSync(join(GOLDEN, `internal__gatewayapi__testdata__${c}.out.yaml`), 'utf8'));
    expect(LOCAL.cases[c]!.facts).toEqual(factsOf(out));
    for (const [k, v] of Object.entries(LOCAL.cases[c]!.input)) expect(v).toEqual(input[k]);
  });

  it('http-route-weighted-backend (xds-ir): the clusters', () => {
    const ir = parseYaml(readFileSync(join(GOLDEN, 'internal__xds__translator__testdata__in__xds-ir__http-route-weighted-backend.yaml'), 'utf8'));
    const clusters = parseAllDocuments(readFileSync(join(GOLDEN, 'internal__xds__translator__testdata__out__xds-ir__http-route-weighted-backend.clusters.yaml'), 'utf8')).flatMap((d) => d.toJS());
    expect(LOCAL.xdsIr['http-route-weighted-backend']).toEqual({
      settings: ir.http[0].routes[0].destination.settings.map((s: any) => ({ weight: s.weight, hosts: s.endpoints.map((e: any) => e.host) })),
      clusters: clusters.map((x: any) => x.name),
    });
  });
});

/** The golden loader reads keys case-insensitively (`backoff`); the API server would not, so the world gets `backOff`. */
function normalise(btp: KubeObject): KubeObject {
  const per = (btp.spec as any)?.retry?.perRetry;
  if (per?.backoff) return { ...btp, spec: { ...(btp.spec as object), retry: { ...(btp.spec as any).retry, perRetry: { ...per, backOff: per.backoff, backoff: undefined } } } };
  return btp;
}

/** An HTTPRoute of the golden input as the AIGatewayRoute that generates it, with an AIServiceBackend per backendRef. */
function worldOf(input: Record<string, KubeObject[]>) {
  const routes = (input.httpRoutes ?? []).map((h) => ({
    apiVersion: 'aigateway.envoyproxy.io/v1beta1',
    kind: 'AIGatewayRoute',
    metadata: h.metadata,
    spec: {
      parentRefs: (h.spec as any).parentRefs,
      hostnames: (h.spec as any).hostnames,
      rules: (h.spec as any).rules.map((r: any) => ({ matches: r.matches, backendRefs: (r.backendRefs ?? []).map((b: any) => ({ name: b.name, ...(b.weight !== undefined ? { weight: b.weight } : {}) })) })),
    },
  })) as KubeObject[];
  const asbs = (input.httpRoutes ?? []).flatMap((h) =>
    (h.spec as any).rules.flatMap((r: any) =>
      (r.backendRefs ?? []).map((b: any) => ({
        apiVersion: 'aigateway.envoyproxy.io/v1beta1',
        kind: 'AIServiceBackend',
        metadata: { name: b.name, namespace: h.metadata?.namespace },
        spec: { backendRef: b.kind === 'Backend' ? { group: 'gateway.envoyproxy.io', kind: 'Backend', name: b.name } : { name: b.name, port: b.port } },
      })),
    ),
  ) as KubeObject[];
  return { routes, btps: (input.backendTrafficPolicies ?? []).map(normalise), data: { aiServiceBackends: asbs, backends: input.backends ?? [] } };
}

const ms = (v: unknown) => {
  const d = parseDuration(v);
  return d.ok ? d.ms : undefined;
};

describe('the model agrees with what Envoy Gateway built, route by route', () => {
  const rows = Object.entries(LOCAL.cases).flatMap(([c, { input, facts }]) =>
    facts
      // Two golden routes share the name httproute-3 there, and its unix Backend gets no endpoints: the first route only.
      .filter((f) => c !== 'httproute-attaching-to-listener-with-multiple-backend-backendrefs-diff-address-type' || f.name.includes('httproute-1/'))
      .map((f) => [`${c}: ${f.name}`, input, f] as const),
  );

  it.each(rows)('%s', (_label, input, fact) => {
    const parsed = parseXdsName(fact.name);
    if (!parsed.ok) throw new Error(parsed.error);
    const n = parsed.value;
    const { routes, btps, data } = worldOf(input);
    const route = routes.find((r) => r.metadata?.namespace === n.namespace && r.metadata?.name === n.name)!;
    const m = routeFallover(route, btps, routeProviders(route, data)).rules[n.ruleIndex]!;
    const refused = m.attached.some((a) => refusedValues(btps.find((b) => b.metadata?.namespace === a.namespace && b.metadata?.name === a.name)!).length > 0);

    // A policy applies (traffic), or it is refused and the route answers 500, or none applies.
    expect({ applies: m.attached.length > 0 && !refused, refused500: refused }).toEqual({ applies: fact.trafficApplied, refused500: fact.directResponse === 500 });

    if (fact.retry) {
      const r = m.retry!;
      expect({
        numRetries: r.numRetries,
        numAttemptsPerPriority: r.numAttemptsPerPriority,
        previousPriorities: r.previousPriorities,
        triggers: r.retryOn,
        codes: r.statusCodes,
        perTry: r.perTryTimeoutMs,
        backOff: [r.backOffBaseMs, r.backOffMaxMs],
      }).toEqual({
        numRetries: fact.retry.numRetries ?? 2,
        numAttemptsPerPriority: fact.retry.numAttemptsPerPriority,
        previousPriorities: fact.retry.numAttemptsPerPriority > 0 ? { updateFrequency: fact.retry.numAttemptsPerPriority } : undefined,
        triggers: fact.retry.retryOn?.triggers ?? ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
        codes: fact.retry.retryOn?.httpStatusCodes ?? (fact.retry.retryOn?.triggers ? [] : [503]),
        perTry: ms(fact.retry.perRetry?.timeout),
        backOff: [ms(fact.retry.perRetry?.backOff?.baseInterval), ms(fact.retry.perRetry?.backOff?.maxInterval)],
      });
    } else if (!refused) {
      expect(m.retry).toBeUndefined();
    }

    // Weight-0 refs are dropped: the settings are the refs with weight, in order.
    expect(m.levels.flatMap((l) => l.backends).length).toBe(fact.settings.length);
    // One cluster per backend when the address types differ or zone-aware load balancing is on.
    const types = new Set(fact.settings.map((s) => s.addressType).filter((t) => t !== null));
    const zoneAware = !!fact.loadBalancer && ('weightedZones' in fact.loadBalancer || 'preferLocal' in fact.loadBalancer);
    expect(m.split !== undefined).toBe(types.size > 1 || zoneAware);
  });

  it('http-route-weighted-backend: backends of one address type share one cluster, named after the rule; no …/backend/<j> exists', () => {
    const { settings, clusters } = LOCAL.xdsIr['http-route-weighted-backend']!;
    const names = settings.map((_, j) => `b${j}`);
    const route = {
      apiVersion: 'aigateway.envoyproxy.io/v1beta1',
      kind: 'AIGatewayRoute',
      metadata: { name: 'first-route', namespace: 'default' },
      spec: { rules: [{ backendRefs: settings.map((s, j) => ({ name: names[j], weight: s.weight })) }] },
    } as KubeObject;
    const data = {
      aiServiceBackends: names.map((n) => ({ apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIServiceBackend', metadata: { name: n, namespace: 'default' }, spec: { backendRef: { group: 'gateway.envoyproxy.io', kind: 'Backend', name: n } } })),
      backends: settings.map((s, j) => ({ apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'Backend', metadata: { name: names[j], namespace: 'default' }, spec: { endpoints: s.hosts.map((h) => ({ ip: { address: h, port: 50000 + j } })) } })),
    } as { aiServiceBackends: KubeObject[]; backends: KubeObject[] };
    expect(routeFallover(route, [], routeProviders(route, data)).rules[0]!.split).toBeUndefined();
    expect(clusters).toEqual(['first-route-dest']);
  });
});
