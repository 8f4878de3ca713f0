import { describe, expect, it } from 'vitest';
import { FailurePolicyEnforcer } from '../../src/cluster/failure-policy.js';
import { FAILURE_POLICY_WHEN_READY } from '../../src/deploy/webhook-rules.js';
import type { Logger } from '../../src/review/deps.js';
import { FakeCertClient } from './fake-cert-client.js';

const VWC = 'ValidatingWebhookConfiguration/aigw-admission';
const MWC = 'MutatingWebhookConfiguration/aigw-admission';
const REFS = [
  { kind: 'ValidatingWebhookConfiguration' as const, name: 'aigw-admission' },
  { kind: 'MutatingWebhookConfiguration' as const, name: 'aigw-admission' },
];

/** The configurations as deploy/ installs them: every entry Ignore. */
function installed(): FakeCertClient {
  return new FakeCertClient({
    [VWC]: [
      { name: 'gateway.validate.aigw-admission.io', failurePolicy: 'Ignore' },
      { name: 'gateway-deletes.validate.aigw-admission.io', failurePolicy: 'Ignore' },
    ],
    [MWC]: [
      { name: 'gateway.mutate.aigw-admission.io', failurePolicy: 'Ignore' },
      { name: 'pods.mutate.aigw-admission.io', failurePolicy: 'Ignore' },
    ],
  });
}

function recordingLogger() {
  const lines: string[] = [];
  const logger: Logger = { debug() {}, info: (_o, m) => void lines.push(`info ${m}`), warn: (_o, m) => void lines.push(`warn ${m}`), error: (_o, m) => void lines.push(`error ${m}`) };
  return { logger, lines };
}

const policies = (c: FakeCertClient, ref: string) => c.configs.get(ref)!.webhooks.map((w) => `${w.name}=${w.failurePolicy}`);

describe('failure policy enforcement (install safety)', () => {
  it('changes nothing while the replica is not ready, then raises exactly the entries declared Fail, once', async () => {
    const client = installed();
    let ready = false;
    const { logger, lines } = recordingLogger();
    const enforcer = new FailurePolicyEnforcer({ client, webhooks: REFS, wanted: FAILURE_POLICY_WHEN_READY, ready: () => ready, logger });

    expect(await enforcer.reconcileOnce()).toEqual({ state: 'waiting-for-ready', raised: [], missing: [] });
    expect(client.calls).toEqual([]);

    ready = true;
    expect(await enforcer.reconcileOnce()).toEqual({
      state: 'enforced',
      raised: [`${VWC}: gateway.validate.aigw-admission.io`, `${MWC}: pods.mutate.aigw-admission.io`],
      missing: [],
    });
    expect(client.patches).toEqual([
      { ref: VWC, ops: [{ op: 'test', path: '/webhooks/0/name', value: 'gateway.validate.aigw-admission.io' }, { op: 'add', path: '/webhooks/0/failurePolicy', value: 'Fail' }] },
      { ref: MWC, ops: [{ op: 'test', path: '/webhooks/1/name', value: 'pods.mutate.aigw-admission.io' }, { op: 'add', path: '/webhooks/1/failurePolicy', value: 'Fail' }] },
    ]);
    expect(policies(client, VWC)).toEqual(['gateway.validate.aigw-admission.io=Fail', 'gateway-deletes.validate.aigw-admission.io=Ignore']);
    expect(policies(client, MWC)).toEqual(['gateway.mutate.aigw-admission.io=Ignore', 'pods.mutate.aigw-admission.io=Fail']);
    expect(lines).toEqual([
      'info ready: ValidatingWebhookConfiguration/aigw-admission now refuses writes it cannot review (failurePolicy Fail on gateway.validate.aigw-admission.io)',
      'info ready: MutatingWebhookConfiguration/aigw-admission now refuses writes it cannot review (failurePolicy Fail on pods.mutate.aigw-admission.io)',
    ]);

    // A second pass finds nothing to do: no patch.
    expect((await enforcer.reconcileOnce()).raised).toEqual([]);
    expect(client.patches).toHaveLength(2);
  });

  it('repairs an entry that a re-apply of the manifests set back to Ignore, and never lowers one an operator raised', async () => {
    const client = installed();
    client.configs.get(MWC)!.webhooks[0]!.failurePolicy = 'Fail'; // the operator chose Fail for the defaults too
    const enforcer = new FailurePolicyEnforcer({ client, webhooks: REFS, wanted: FAILURE_POLICY_WHEN_READY, ready: () => true, logger: recordingLogger().logger });
    await enforcer.reconcileOnce();
    client.configs.get(VWC)!.webhooks[0]!.failurePolicy = 'Ignore'; // kubectl apply -k deploy/ again
    expect((await enforcer.reconcileOnce()).raised).toEqual([`${VWC}: gateway.validate.aigw-admission.io`]);
    expect(policies(client, MWC)).toEqual(['gateway.mutate.aigw-admission.io=Fail', 'pods.mutate.aigw-admission.io=Fail']);
  });

  it('reports a configuration that is not applied yet, and leaves entries it does not declare alone', async () => {
    const client = new FakeCertClient({ [VWC]: [{ name: 'someone-else.example.com', failurePolicy: 'Ignore' }] });
    const enforcer = new FailurePolicyEnforcer({ client, webhooks: REFS, wanted: FAILURE_POLICY_WHEN_READY, ready: () => true, logger: recordingLogger().logger });
    expect(await enforcer.reconcileOnce()).toEqual({ state: 'enforced', raised: [], missing: [MWC] });
    expect(client.patches).toEqual([]);
  });
});
