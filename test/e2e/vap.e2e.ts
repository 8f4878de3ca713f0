import { afterAll, describe, expect, it } from 'vitest';
import { cli, kubectl, kubectlOk, routeJson, scenarioNamespace, waitFor } from './rig.js';

/**
 * Issue 22 item 4: with the webhook out of the API server's path, the generated ValidatingAdmissionPolicies still
 * refuse the single-object mistakes, with their own messages. The validating webhook configuration is taken away for
 * the scenario and put back after it (files run one after another, so no other scenario sees the gap).
 */
describe('ValidatingAdmissionPolicies hold when the webhook is away', () => {
  let savedWebhook: string | undefined;
  let vaps: string | undefined;

  afterAll(() => {
    if (vaps) kubectl(['delete', '--ignore-not-found', '-f', '-'], { input: vaps });
    if (savedWebhook) kubectl(['create', '-f', '-'], { input: savedWebhook });
  });

  it('a route whose streamIdleTimeout can never fire, and one over the HTTPRoute limits, are refused by the API server itself', async () => {
    const saved = JSON.parse(kubectlOk(['get', 'validatingwebhookconfiguration', 'aigw-admission', '-o', 'json'])) as { metadata: Record<string, unknown> };
    const { name, labels, annotations } = saved.metadata as { name: string; labels?: unknown; annotations?: unknown };
    savedWebhook = JSON.stringify({ ...saved, metadata: { name, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } });
    kubectlOk(['delete', 'validatingwebhookconfiguration', 'aigw-admission']);

    const printed = cli(['vap']);
    expect(printed.code).toBe(0);
    vaps = printed.stdout;
    kubectlOk(['apply', '-f', '-'], { input: vaps });

    const ns = scenarioNamespace('vap');
    const idle = routeJson(ns, 'chat', [{ name: 'chat', streamIdleTimeout: '90s', backendRefs: [{ name: 'openai' }] }]);
    // A new policy takes effect a second or two after it is created: wait for the first denial.
    const denied = await waitFor('the stream-idle-within-request policy to deny', () => {
      const r = kubectl(['apply', '--dry-run=server', '-f', '-'], { input: idle });
      return r.code !== 0 && r.stderr.includes('ValidatingAdmissionPolicy') ? r : undefined;
    });
    // The mutating webhook (still registered) wrote timeouts.request 60s first; the policy judges the mutated object.
    expect(denied.stderr).toContain(
      `The aigatewayroutes "chat" is invalid: : ValidatingAdmissionPolicy 'aigw-admission-stream-idle-within-request' with binding 'aigw-admission-stream-idle-within-request' denied request: [stream-idle-within-request] spec.rules[0].streamIdleTimeout: spec.rules[0] ("chat"): streamIdleTimeout 90s is not shorter than the 60s bound on one attempt (timeouts.request 60s; no timeouts.backendRequest), so the idle timer can never fire first and a silent model is never failed over. Fix: set streamIdleTimeout below 60s, or raise timeouts.request above 90s.`,
    );
    expect(denied.stderr).not.toContain('admission webhook');

    const tooMany = routeJson(ns, 'wide', [{ name: 'wide', backendRefs: Array.from({ length: 17 }, (_, i) => ({ name: `b${i}` })) }]);
    // Each policy takes effect on its own: the first one denying says nothing of this one (seen admitted on a busy machine).
    await waitFor('the httproute-limits policy to deny', () => {
      const r = kubectl(['apply', '--dry-run=server', '-f', '-'], { input: tooMany });
      return r.code !== 0 && r.stderr.includes('aigw-admission-httproute-limits') ? r : undefined;
    });
    const wide = kubectl(['apply', '-f', '-'], { input: tooMany });
    expect(wide.code).toBe(1);
    expect(wide.stderr).toContain(`ValidatingAdmissionPolicy 'aigw-admission-httproute-limits' with binding 'aigw-admission-httproute-limits' denied request: [httproute-limits] spec.rules[0].backendRefs: spec.rules[0] ("wide"): 17 backendRefs, but an HTTPRoute rule holds at most 16`);
    expect(kubectl(['-n', ns, 'get', 'aigatewayroute', 'wide']).stderr).toContain('NotFound');

    // A good route still goes through, and the CEL compiled in the API server without type warnings.
    const good = routeJson(ns, 'fine', [{ name: 'fine', streamIdleTimeout: '30s', timeouts: { request: '2m' }, backendRefs: [{ name: 'openai' }] }]);
    expect(kubectl(['apply', '-f', '-'], { input: good }).code).toBe(0);
    const policies = JSON.parse(kubectlOk(['get', 'validatingadmissionpolicies', '-o', 'json'])) as {
      items: Array<{ metadata: { name: string }; status?: { typeChecking?: { expressionWarnings?: unknown[] } } }>;
    };
    const ours = policies.items.filter((p) => p.metadata.name.startsWith('aigw-admission-'));
    expect(ours.length).toBeGreaterThanOrEqual(4);
    expect(ours.flatMap((p) => (p.status?.typeChecking?.expressionWarnings ?? []).map((w) => `${p.metadata.name}: ${JSON.stringify(w)}`))).toEqual([]);
  });
});
