import { X509Certificate } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { NEXT_ISSUED_AT, WebhookCertManager, splitPemCertificates, type WebhookConfigRef } from '../../src/cluster/webhook-certs.js';
import { silentLogger } from '../../src/review/deps.js';
import type { ServingCerts } from '../../src/tls/source.js';
import { DAY, FakeCertClient, fakeClock } from './fake-cert-client.js';
import { certificateSans } from '../../src/tls/certs.js';

const VWC = 'ValidatingWebhookConfiguration/aigw-admission';
const MWC = 'MutatingWebhookConfiguration/aigw-admission';
const WEBHOOKS: WebhookConfigRef[] = [
  { kind: 'ValidatingWebhookConfiguration', name: 'aigw-admission' },
  { kind: 'MutatingWebhookConfiguration', name: 'aigw-admission' },
];

function manager(client: FakeCertClient, now: () => Date, extra: Partial<ConstructorParameters<typeof WebhookCertManager>[0]> = {}) {
  return new WebhookCertManager({
    client,
    namespace: 'aigw-admission',
    service: 'aigw-admission',
    secretName: 'aigw-admission-tls',
    webhooks: WEBHOOKS,
    now,
    logger: silentLogger,
    validityDays: 90,
    propagationDelayMs: 120_000,
    ...extra,
  });
}

const b64 = (pem: string) => Buffer.from(pem).toString('base64');
const subjectOf = (pem: string) => new X509Certificate(pem).subject;

describe('WebhookCertManager', () => {
  it('creates the Secret on first start and puts its CA into every webhook entry of both configurations', async () => {
    const client = new FakeCertClient();
    const clock = fakeClock();
    const m = manager(client, clock.now);
    const served = await m.start(() => {});
    m.stop();

    const s = client.secret!;
    expect(Object.keys(s.data).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
    expect(served).toEqual({ cert: s.data['tls.crt'], key: s.data['tls.key'], ca: s.data['ca.crt'] });
    const leaf = new X509Certificate(s.data['tls.crt']!);
    expect(leaf.checkHost('aigw-admission.aigw-admission.svc')).toBe('aigw-admission.aigw-admission.svc');
    expect(leaf.checkIssued(new X509Certificate(s.data['ca.crt']!))).toBe(true);
    for (const [ref, i] of [[VWC, 0], [MWC, 0], [MWC, 1]] as const) expect(client.caBundle(ref, i)).toBe(b64(s.data['ca.crt']!));
    expect(client.calls).toEqual([
      'get Secret aigw-admission/aigw-admission-tls',
      'create Secret aigw-admission/aigw-admission-tls',
      `get ${VWC}`,
      `patch ${VWC}`,
      `get ${MWC}`,
      `patch ${MWC}`,
    ]);
  });

  it('repairs a caBundle wiped by a re-apply on the next reconcile, with guarded JSON Patch operations', async () => {
    const client = new FakeCertClient();
    const m = manager(client, fakeClock().now);
    await m.reconcile();
    const bundle = b64(client.secret!.data['ca.crt']!);
    client.patches.length = 0;

    await m.reconcile();
    expect(client.patches).toEqual([]); // nothing to repair: no write

    client.wipeCaBundles();
    await m.reconcile();
    expect(client.patches).toEqual([
      { ref: VWC, ops: [{ op: 'test', path: '/webhooks/0/name', value: 'gateway.validate.aigw-admission.io' }, { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: bundle }] },
      {
        ref: MWC,
        ops: [
          { op: 'test', path: '/webhooks/0/name', value: 'gateway.mutate.aigw-admission.io' },
          { op: 'add', path: '/webhooks/0/clientConfig/caBundle', value: bundle },
          { op: 'test', path: '/webhooks/1/name', value: 'pods.mutate.aigw-admission.io' },
          { op: 'add', path: '/webhooks/1/clientConfig/caBundle', value: bundle },
        ],
      },
    ]);
    expect(client.caBundle(MWC, 1)).toBe(bundle);
  });

  it('two replicas starting at once: one creates the Secret, the other gets 409, re-reads it and serves the same certificate', async () => {
    const client = new FakeCertClient();
    const clock = fakeClock();
    const a = manager(client, clock.now);
    const b = manager(client, clock.now);
    await Promise.all([a.reconcile(), b.reconcile()]);
    expect(client.calls.filter((c) => c.startsWith('create Secret'))).toHaveLength(2);
    expect(a.current()!.cert).toBe(client.secret!.data['tls.crt']);
    expect(b.current()!.cert).toBe(client.secret!.data['tls.crt']);
    expect(client.secret!.resourceVersion).toBe('1');
  });

  it('rotates at 2/3 of the lifetime: new CA into the bundle first, the new certificate served only once trusted, the old CA dropped at expiry', async () => {
    const client = new FakeCertClient();
    const clock = fakeClock(Date.parse('2026-03-01T00:00:00Z'));
    const m = manager(client, clock.now);
    const changes: ServingCerts[] = [];
    const first = await m.start((c) => changes.push(c));
    m.stop();
    const oldCa = client.secret!.data['ca.crt']!;

    clock.advance(59 * DAY);
    await m.reconcile();
    expect(client.secret!.data['next.crt']).toBeUndefined(); // 59 of 90 days: not yet

    clock.advance(1 * DAY + 10 * 60_000); // past 2/3 of 90 days (counted from notBefore, 5 minutes before issue)
    await m.reconcile();
    const s = client.secret!;
    const [newCa, keptCa] = splitPemCertificates(s.data['ca.crt']!);
    expect(keptCa).toBe(oldCa);
    expect(subjectOf(newCa!)).toBe(subjectOf(oldCa)); // same name, new key
    expect(newCa).not.toBe(oldCa);
    expect(new X509Certificate(s.data['next.crt']!).checkIssued(new X509Certificate(newCa!))).toBe(true);
    expect(s.annotations[NEXT_ISSUED_AT]).toBe(clock.now().toISOString());
    expect(s.data['tls.crt']).toBe(first.cert); // still the old pair
    expect(client.caBundle(VWC, 0)).toBe(b64(newCa! + oldCa));
    expect(client.caBundle(MWC, 1)).toBe(b64(newCa! + oldCa));
    expect(changes).toEqual([]);

    clock.advance(120_000 - 1);
    await m.reconcile();
    expect(changes).toEqual([]); // the API servers may not have the new caBundle yet

    clock.advance(1);
    await m.reconcile();
    const promoted = client.secret!;
    expect(promoted.data['tls.crt']).toBe(s.data['next.crt']);
    expect(promoted.data['tls.key']).toBe(s.data['next.key']);
    expect(promoted.data['next.crt']).toBeUndefined();
    expect(promoted.annotations[NEXT_ISSUED_AT]).toBeUndefined();
    expect(promoted.data['ca.crt']).toBe(newCa! + oldCa); // old connections' CA still trusted
    expect(changes).toEqual([{ cert: s.data['next.crt'], key: s.data['next.key'], ca: newCa! + oldCa }]);

    clock.advance(31 * DAY); // the old CA has expired
    await m.reconcile();
    expect(client.secret!.data['ca.crt']).toBe(newCa);
    expect(client.caBundle(VWC, 0)).toBe(b64(newCa!));
    expect(changes).toHaveLength(1); // the served pair did not change
  });

  it('does not serve the renewed certificate while a webhook configuration is missing', async () => {
    const client = new FakeCertClient();
    const clock = fakeClock();
    const m = manager(client, clock.now);
    await m.reconcile();
    const old = m.current()!.cert;
    client.configs.delete(MWC);
    clock.advance(61 * DAY);
    await m.reconcile();
    clock.advance(DAY);
    await m.reconcile();
    expect(m.current()!.cert).toBe(old);
    expect(client.secret!.data['next.crt']).toBeDefined();
  });

  it('replaces a Secret whose key does not belong to its certificate, keeping the still valid CA in the bundle', async () => {
    const client = new FakeCertClient();
    const clock = fakeClock();
    const m = manager(client, clock.now);
    await m.reconcile();
    const before = client.secret!.data;
    client.secret!.data = { ...before, 'tls.key': before['ca.key']! }; // a key, but not tls.crt's
    await m.reconcile();
    const after = client.secret!.data;
    expect(after['tls.crt']).not.toBe(before['tls.crt']);
    expect(splitPemCertificates(after['ca.crt']!)).toHaveLength(2);
    expect(splitPemCertificates(after['ca.crt']!)[1]).toBe(before['ca.crt']);
    expect(m.current()!.cert).toBe(after['tls.crt']);
  });

  it('adds the --listen address to the serving certificate, and replaces a certificate made without it', async () => {
    const client = new FakeCertClient();
    const clock = fakeClock();
    const first = manager(client, clock.now);
    const before = await first.start(() => {});
    first.stop();
    expect(certificateSans(before.cert)).toEqual(['aigw-admission', 'aigw-admission.aigw-admission', 'aigw-admission.aigw-admission.svc', 'aigw-admission.aigw-admission.svc.cluster.local']);

    const workstation = manager(client, clock.now, { extraSans: ['127.0.0.1'] });
    const after = await workstation.start(() => {});
    workstation.stop();
    expect(certificateSans(after.cert)).toEqual([
      'aigw-admission',
      'aigw-admission.aigw-admission',
      'aigw-admission.aigw-admission.svc',
      'aigw-admission.aigw-admission.svc.cluster.local',
      '127.0.0.1',
    ]);
    expect(new X509Certificate(after.cert).checkIP('127.0.0.1')).toBe('127.0.0.1');
    // The in-cluster replicas (no extra names) keep serving it: it still covers the Service.
    const inCluster = manager(client, clock.now);
    expect((await inCluster.start(() => {})).cert).toBe(after.cert);
    inCluster.stop();
  });
});
