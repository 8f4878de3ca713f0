import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import tls, { type TLSSocket } from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { ClientRequest, IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type RunningServer } from '../../src/server/serve.js';
import { WebhookCertManager, splitPemCertificates } from '../../src/cluster/webhook-certs.js';
import { silentLogger } from '../../src/review/deps.js';
import { FakeCertClient, fakeClock } from '../cluster/fake-cert-client.js';
import { ROOT } from '../helpers.js';

const SERVICE_NAME = 'aigw-admission.aigw-admission.svc';
const MINUTE = 60_000;

function request(agent: https.Agent, port: number, method: string, path: string): { req: ClientRequest; res: Promise<{ status: number; body: string; peer: string; reused: boolean }> } {
  let req!: ClientRequest;
  const res = new Promise<{ status: number; body: string; peer: string; reused: boolean }>((resolve, reject) => {
    req = https.request(
      { host: '127.0.0.1', port, method, path, agent, servername: SERVICE_NAME, checkServerIdentity: (_h, cert) => tls.checkServerIdentity(SERVICE_NAME, cert), headers: method === 'POST' ? { 'content-type': 'application/json' } : {} },
      (r: IncomingMessage) => {
        const peer = (r.socket as TLSSocket).getPeerCertificate().fingerprint256;
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => resolve({ status: r.statusCode!, body: Buffer.concat(chunks).toString('utf8'), peer, reused: req.reusedSocket }));
      },
    );
    req.on('error', reject);
  });
  return { req, res };
}

const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

describe('certificate rotation while serving', () => {
  const client = new FakeCertClient();
  // Real time at the start: Node verifies validity against the real clock, so the lifetimes here are minutes.
  const clock = fakeClock();
  const certs = new WebhookCertManager({
    client,
    namespace: 'aigw-admission',
    service: 'aigw-admission',
    secretName: 'aigw-admission-tls',
    webhooks: [
      { kind: 'ValidatingWebhookConfiguration', name: 'aigw-admission' },
      { kind: 'MutatingWebhookConfiguration', name: 'aigw-admission' },
    ],
    now: clock.now,
    logger: silentLogger,
    validityDays: 6 / 1440,
    propagationDelayMs: 10_000,
    intervalMs: 3_600_000,
  });
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer({ host: '127.0.0.1', port: 0, tlsDir: mkdtempSync(join(tmpdir(), 'aigw-rot-')), standalone: false, logger: silentLogger, certs });
  });
  afterAll(() => server.close());

  it('serves the new certificate to new connections, finishes a request in flight on the old one, and the bundle verifies both', async () => {
    const oldCert = client.secret!.data['tls.crt']!;
    const oldCa = client.secret!.data['ca.crt']!;
    const oldAgent = new https.Agent({ ca: oldCa, keepAlive: true, maxSockets: 1 });

    const first = request(oldAgent, server.port, 'GET', '/healthz');
    first.req.end();
    expect(await first.res).toEqual({ status: 200, body: 'ok\n', peer: fingerprint(oldCert), reused: false });

    // A review in flight on the kept-alive connection: half its body is sent before the switch.
    const body = readFileSync(join(ROOT, 'test/fixtures/admission-reviews/aigatewayroute-healthy.json'));
    const inFlight = request(oldAgent, server.port, 'POST', '/validate');
    inFlight.req.write(body.subarray(0, 100));

    clock.advance(4 * MINUTE); // past 2/3 of the lifetime
    await certs.reconcile(); // new CA into the bundle, new pair pending
    clock.advance(10_000); // the propagation delay
    await certs.reconcile(); // promoted: setTls
    const newCert = client.secret!.data['tls.crt']!;
    expect(newCert).not.toBe(oldCert);
    expect(certs.current()!.cert).toBe(newCert);

    inFlight.req.end(body.subarray(100));
    const answered = await inFlight.res;
    expect(answered.status).toBe(200);
    expect(JSON.parse(answered.body).response.allowed).toBe(true);
    expect(answered.peer).toBe(fingerprint(oldCert));
    expect(answered.reused).toBe(true);

    // The API server's view: the caBundle now holds both CAs, and a new connection verifies against it.
    const caBundle = Buffer.from(client.caBundle('ValidatingWebhookConfiguration/aigw-admission', 0)!, 'base64').toString('utf8');
    expect(splitPemCertificates(caBundle)).toEqual([...splitPemCertificates(client.secret!.data['ca.crt']!)]);
    expect(splitPemCertificates(caBundle)).toHaveLength(2);
    const apiServer = new https.Agent({ ca: caBundle, keepAlive: false });
    const fresh = request(apiServer, server.port, 'GET', '/healthz');
    fresh.req.end();
    expect(await fresh.res).toEqual({ status: 200, body: 'ok\n', peer: fingerprint(newCert), reused: false });

    // A client that trusts only the old CA cannot verify a new connection: the new certificate really is served.
    const stale = request(new https.Agent({ ca: oldCa, keepAlive: false }), server.port, 'GET', '/healthz');
    stale.req.end();
    await expect(stale.res).rejects.toThrow(/unable to verify|self.signed|certificate/i);
    oldAgent.destroy();
  });
});
