import { describe, expect, it } from 'vitest';
import { getJson, kubectl, routeJson, scenarioNamespace, warningsOf } from './rig.js';

describe('defaults written by /mutate are stored', () => {
  it('a route without timeouts.request or modelsCreatedAt is stored with both, and a second apply changes nothing', () => {
    const ns = scenarioNamespace('defaults');
    const route = routeJson(ns, 'chat', [{ name: 'chat', matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: 'gpt-5' }] }], backendRefs: [{ name: 'openai' }] }]);
    const r = kubectl(['apply', '-f', '-'], { input: route });
    expect(r.code).toBe(0);
    // The two notes of what was written (the validating webhook adds unresolved-backend: no AIServiceBackend exists).
    expect(warningsOf(r.stderr).map((w) => w.split(':')[0]).filter((w) => w.startsWith('[default-'))).toEqual([
      '[default-request-timeout] spec.rules[0].timeouts.request',
      '[default-models-created-at] spec.rules[0].modelsCreatedAt',
    ]);

    const stored = getJson<{ metadata: { creationTimestamp: string; generation: number }; spec: { rules: Array<{ timeouts?: { request?: string }; modelsCreatedAt?: string }> } }>(['-n', ns, 'aigatewayroute', 'chat']);
    expect(stored.spec.rules[0]!.timeouts).toEqual({ request: '60s' });
    // The review time, whole seconds: at most a few seconds before the API server stamped creationTimestamp.
    const written = Date.parse(stored.spec.rules[0]!.modelsCreatedAt!);
    const created = Date.parse(stored.metadata.creationTimestamp);
    expect(stored.spec.rules[0]!.modelsCreatedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    expect(created - written).toBeGreaterThanOrEqual(0);
    expect(created - written).toBeLessThan(60_000);

    // Applying the same file again: the written fields stay (kubectl's three-way merge keeps them), no new generation.
    const again = kubectl(['apply', '-f', '-'], { input: route });
    expect(again.code).toBe(0);
    const after = getJson<typeof stored>(['-n', ns, 'aigatewayroute', 'chat']);
    expect([after.metadata.generation, after.spec.rules[0]!.timeouts, after.spec.rules[0]!.modelsCreatedAt]).toEqual([stored.metadata.generation, { request: '60s' }, stored.spec.rules[0]!.modelsCreatedAt]);
  });
});
