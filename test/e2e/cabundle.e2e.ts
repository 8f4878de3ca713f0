import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { kubectl, kubectlOk, rig, waitFor } from './rig.js';

const bundles = () =>
  kubectlOk(['get', 'validatingwebhookconfiguration,mutatingwebhookconfiguration', 'aigw-admission', '-o', 'jsonpath={range .items[*].webhooks[*]}{.clientConfig.caBundle}{"\\n"}{end}'])
    .split('\n')
    .filter((l, i, all) => i < all.length - 1);

describe('caBundle repair', () => {
  it('a re-apply of the webhook configurations wipes caBundle; serve puts its CA back, and the API server trusts it again', async () => {
    const before = bundles();
    const ca = Buffer.from(readFileSync(rig().webhookCaPath, 'utf8')).toString('base64');
    // Every webhook of both configurations (the validating one has two, the mutating one two).
    expect(before).toEqual([ca, ca, ca, ca]);
    // Nothing else in this cluster writes caBundle: once it is back, serve put it there (every --cert-check-interval).
    // A replace of the manifests (what a GitOps sync or `kubectl replace` does to a running install) carries no caBundle.
    kubectlOk(['replace', '-f', join(rig().rigDir, 'aigw-e2e/webhook-configurations.json')]);
    const repaired = await waitFor('serve to repair caBundle', () => {
      const now = bundles();
      return now.every((b) => b === ca) ? now : undefined;
    });
    expect(repaired).toEqual([ca, ca, ca, ca]);
    // The API server calls the webhook again (a dry run gets the mutate warnings back).
    await waitFor('the API server to call the webhook with the repaired caBundle', () => {
      const r = kubectl(['apply', '--dry-run=server', '-f', '-'], {
        input: JSON.stringify({
          apiVersion: 'aigateway.envoyproxy.io/v1beta1',
          kind: 'AIGatewayRoute',
          metadata: { name: 'cabundle-probe', namespace: 'default' },
          spec: { parentRefs: [{ name: 'gw', kind: 'Gateway', group: 'gateway.networking.k8s.io' }], rules: [{ backendRefs: [{ name: 'openai' }] }] },
        }),
      });
      return r.code === 0 && r.stderr.includes('[default-request-timeout]') ? r : undefined;
    });
  });
});
