import { describe, expect, it } from 'vitest';
import { kubectl, rig, serveLog } from './rig.js';

/** `kubectl auth can-i` as the webhook's ServiceAccount, through its own token. */
const can = (verb: string, resource: string, extra: string[] = []) => kubectl(['auth', 'can-i', verb, resource, ...extra], { kubeconfig: rig().serviceAccountKubeconfig }).stdout.trim();

describe("deploy/'s RBAC, used through the ServiceAccount token", () => {
  it('serve ran as aigw-admission/aigw-admission and nothing it did was forbidden', async () => {
    expect(kubectl(['auth', 'whoami', '-o', 'jsonpath={.status.userInfo.username}'], { kubeconfig: rig().serviceAccountKubeconfig }).stdout).toBe('system:serviceaccount:aigw-admission:aigw-admission');
    const log = await serveLog();
    // It synced its cache, kept its certificate Secret and patched caBundle with these rights alone.
    expect(log.some((l) => l.event === 'cache_synced')).toBe(true);
    expect(log.filter((l) => l.event === 'certs_created' || l.event === 'ca_bundle_patched').length).toBeGreaterThan(0);
    const forbidden = log.filter((l) => /forbidden|403/i.test(String(l.message ?? l.msg ?? '')));
    expect(forbidden).toEqual([]);
  });

  it('grants what the webhook calls and no more', () => {
    expect(
      [
        can('watch', 'aigatewayroutes.aigateway.envoyproxy.io', ['-A']),
        can('list', 'envoypatchpolicies.gateway.envoyproxy.io', ['-A']),
        can('create', 'events.events.k8s.io', ['-n', 'default']),
        can('update', 'reports.openreports.io', ['-n', 'default']),
        can('update', 'policyreports.wgpolicyk8s.io', ['-n', 'default']),
        can('get', 'secrets/aigw-admission-tls', ['-n', 'aigw-admission']),
        can('patch', 'validatingwebhookconfigurations/aigw-admission'),
      ],
    ).toEqual(['yes', 'yes', 'yes', 'yes', 'yes', 'yes', 'yes']);
    expect(
      [
        can('get', 'secrets', ['-n', 'default']),
        can('get', 'secrets/other', ['-n', 'aigw-admission']),
        can('delete', 'reports.openreports.io', ['-n', 'default']),
        can('patch', 'validatingwebhookconfigurations/someone-else'),
        can('create', 'aigatewayroutes.aigateway.envoyproxy.io', ['-n', 'default']),
      ],
    ).toEqual(['no', 'no', 'no', 'no', 'no']);
  });
});
