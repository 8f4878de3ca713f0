import { describe, expect, it } from 'vitest';
import { kubectl, routeJson, scenarioNamespace } from './rig.js';

describe('a denial names the field', () => {
  it('kubectl apply of a route whose streamIdleTimeout can never fire is refused, with the policy, the field and the fix', () => {
    const ns = scenarioNamespace('denial');
    const rules = [
      {
        name: 'chat',
        matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: 'gpt-5' }] }],
        streamIdleTimeout: '90s',
        backendRefs: [
          { name: 'openai', priority: 0, weight: 1 },
          { name: 'anthropic', priority: 1, weight: 1 },
        ],
      },
    ];
    const r = kubectl(['apply', '-f', '-'], { input: routeJson(ns, 'chat', rules) });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `admission webhook "gateway.validate.aigw-admission.io" denied the request: [stream-idle-within-request] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 1m30s is not shorter than`,
    );
    expect(r.stderr).toContain('Fix: set streamIdleTimeout below');
    // Refused means not stored.
    expect(kubectl(['-n', ns, 'get', 'aigatewayroute', 'chat']).stderr).toContain('NotFound');
  });
});
