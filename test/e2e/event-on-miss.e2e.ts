import { describe, expect, it } from 'vitest';
import { getJson, kubectl, scenarioNamespace, waitFor, warningsOf } from './rig.js';

interface EventList {
  items: Array<{ metadata: { name: string }; eventTime: string; action: string; reason: string; type: string; note: string; regarding: Record<string, string>; reportingController: string }>;
}

describe('an Event on a real route-name miss', () => {
  it('an EnvoyPatchPolicy naming a route that does not exist is admitted with a warning and an Event the API server stores', async () => {
    const ns = scenarioNamespace('miss');
    const policy = {
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'EnvoyPatchPolicy',
      metadata: { name: 'nope-buffer', namespace: ns },
      spec: {
        type: 'JSONPatch',
        targetRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'ai-gateway' },
        jsonPatches: [{ type: 'type.googleapis.com/envoy.config.cluster.v3.Cluster', name: `httproute/${ns}/nope/rule/0`, operation: { op: 'add', path: '/per_connection_buffer_limit_bytes', value: 1 } }],
      },
    };
    const r = kubectl(['apply', '-f', '-'], { input: JSON.stringify(policy) });
    expect(r.code).toBe(0);
    expect(warningsOf(r.stderr)).toEqual([
      `[route-rule-index] spec.jsonPatches[0].name: jsonPatches[0] names "httproute/${ns}/nope/rule/0", but there is no AIGatewayRoute ${ns}/nope, so nothing generates this name and the patch does not apply. When the AIGatewayRoute is applied after this EnvoyPatchPolicy (kubectl apply -f dir/ in file order, a GitOps sync), this goes away once it exists. Fix: create AIGatewayRoute ${ns}/nope, or correct the namespace and name in the reference.`,
    ]);
    const events = await waitFor('the RouteLookupMiss Event', () => {
      const found = getJson<EventList>(['-n', ns, 'events.v1.events.k8s.io']).items.filter((e) => e.regarding.name === 'nope-buffer');
      return found.length > 0 ? found : undefined;
    });
    expect(events).toHaveLength(1);
    const e = events[0]!;
    expect(e.metadata.name).toMatch(/^nope-buffer\.[0-9a-f]{16}$/);
    expect([e.type, e.reason, e.action, e.reportingController, e.regarding]).toEqual([
      'Warning',
      'RouteLookupMiss',
      'Admission',
      'aigw-admission',
      { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'EnvoyPatchPolicy', name: 'nope-buffer', namespace: ns },
    ]);
    expect(e.note.startsWith(`route-not-found: spec.jsonPatches[0].name "httproute/${ns}/nope/rule/0": `)).toBe(true);
    // What an operator runs: the Event shows with kubectl describe / get events too.
    expect(kubectl(['-n', ns, 'get', 'events', '--field-selector', 'involvedObject.name=nope-buffer']).stdout).toContain('RouteLookupMiss');
  });
});
