import { describe, expect, it } from 'vitest';
import { getJson, kubectl, kubectlOk, routeJson, scenarioNamespace, waitFor } from './rig.js';

interface EventList {
  items: Array<{ metadata: { name: string }; reason: string; type: string; note: string; regarding: { kind: string; name: string; namespace: string }; reportingController: string; reportingInstance: string }>;
}

const epp = (ns: string, name: string, xdsName: string) =>
  JSON.stringify({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'EnvoyPatchPolicy',
    metadata: { name, namespace: ns },
    spec: {
      type: 'JSONPatch',
      targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' },
      jsonPatches: [{ type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: xdsName, operation: { op: 'add', path: '/per_connection_buffer_limit_bytes', value: 52428800 } }],
    },
  });

const eventsAbout = (ns: string, name: string) => getJson<EventList>(['-n', ns, 'events.v1.events.k8s.io']).items.filter((e) => e.regarding.name === name);

describe('EnvoyPatchPolicy rule index, against the cache; Events written only for real requests', () => {
  it('denies rule 5 of a 2-rule route from the cache; a dry run writes no Event, the real request writes one, read back', async () => {
    const ns = scenarioNamespace('epp');
    const rule = (name: string, model: string) => ({ name, matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: model }] }], backendRefs: [{ name: 'openai' }] });
    kubectlOk(['apply', '-f', '-'], { input: routeJson(ns, 'two-rule-route', [rule('chat', 'gpt-5'), rule('embeddings', 'text-embedding-3')]) });
    const xds = `httproute/${ns}/two-rule-route/rule/5`;
    const denial = `admission webhook "gateway.validate.aigw-admission.io" denied the request: [route-rule-index] spec.jsonPatches[0].name: jsonPatches[0] names "${xds}", but AIGatewayRoute ${ns}/two-rule-route has 2 rules: 0 ("chat"), 1 ("embeddings")`;

    // The webhook knows the route only through its watch: ask (dry run) until the cache has it.
    const dry = await waitFor('the webhook cache to hold the route (a rule-index denial on dry run)', () => {
      const r = kubectl(['apply', '--dry-run=server', '-f', '-'], { input: epp(ns, 'dry-run-buffer', xds) });
      return r.stderr.includes(denial) ? r : undefined;
    });
    expect(dry.code).toBe(1);

    const real = kubectl(['apply', '-f', '-'], { input: epp(ns, 'real-buffer', xds) });
    expect(real.code).toBe(1);
    expect(real.stderr).toContain(denial);
    expect(real.stderr).toContain('Fix: use a rule index from 0 to 1.');

    const [event] = await waitFor('the Event of the real request', () => {
      const found = eventsAbout(ns, 'real-buffer');
      return found.length > 0 ? found : undefined;
    });
    expect(event!.metadata.name).toMatch(/^real-buffer\.[0-9a-f]+$/);
    expect([event!.type, event!.reason, event!.regarding.kind, event!.regarding.namespace, event!.reportingController, event!.reportingInstance]).toEqual([
      'Warning',
      'RouteLookupMiss',
      'EnvoyPatchPolicy',
      ns,
      'aigw-admission',
      'aigw-admission-e2e',
    ]);
    expect(event!.note).toContain(`spec.jsonPatches[0].name "${xds}"`);
    // The Events go out in order: the real request's is there, and the dry runs (before it) left none.
    expect(eventsAbout(ns, 'dry-run-buffer')).toEqual([]);
  });
});
