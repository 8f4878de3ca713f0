/** Connection abuse, each case on a raw TLS socket with the exact outcome (issue 9 part 4) and client authentication (part 7). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { createWebhookServer, type WebhookServer, type WebhookServerOptions } from '../../src/server/server.js';
import { createCertBundle, type CertBundle } from '../../src/tls/certs.js';
import { Metrics } from '../../src/observe/metrics.js';
import { silentLogger } from '../../src/review/deps.js';
import { ROOT, deps, fallingOverWorld } from '../helpers.js';

const SERVERNAME = 'aigw-admission.aigw-admission.svc';
const BODY = readFileSync(join(ROOT, 'test/fixtures/admission-reviews/aigatewayroute-healthy.json'), 'utf8');
const LIMIT = 64 * 1024;

let certs: CertBundle;
beforeAll(() => {
  certs = createCertBundle({ service: 'aigw-admission', namespace: 'aigw-admission' });
});

async function serve(overrides: Partial<WebhookServerOptions> = {}): Promise<{ webhook: WebhookServer; port: number }> {
  const webhook = createWebhookServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: certs.cert, key: certs.key },
    deps: () => deps({ world: fallingOverWorld() }),
    maxBodyBytes: () => LIMIT,
    metrics: new Metrics(),
    logger: silentLogger,
    readiness: () => ({ ready: true, reasons: [] }),
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
    keepAliveTimeoutMs: 300,
    connectionsCheckingIntervalMs: 50,
    ...overrides,
  });
  const { port } = await webhook.listen();
  return { webhook, port };
}

interface RawConnection {
  socket: tls.TLSSocket;
  /** Everything the server wrote until it closed the connection. */
  closed: Promise<string>;
  /** Resolves once what has arrived satisfies `done`. */
  until(done: (data: string) => boolean): Promise<string>;
}

async function connect(port: number, extra: tls.ConnectionOptions = {}): Promise<RawConnection> {
  const socket = tls.connect({ host: '127.0.0.1', port, ca: certs.caCert, servername: SERVERNAME, ...extra });
  let data = '';
  const waiters: { done: (data: string) => boolean; resolve: (s: string) => void }[] = [];
  socket.setEncoding('utf8');
  socket.on('data', (d: string) => {
    data += d;
    for (const w of waiters.splice(0)) if (w.done(data)) w.resolve(data);
    else waiters.push(w);
  });
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => data);
  await once(socket, 'secureConnect');
  return {
    socket,
    closed,
    until: (done) => (done(data) ? Promise.resolve(data) : new Promise((resolve) => waiters.push({ done, resolve }))),
  };
}

const post = (body: string, extraHeaders = '') =>
  `POST /validate?timeout=5s HTTP/1.1\r\nhost: ${SERVERNAME}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n${extraHeaders}\r\n${body}`;

describe('connection abuse, on raw TLS sockets', () => {
  let server: { webhook: WebhookServer; port: number };
  beforeAll(async () => {
    server = await serve({ maxConnections: 4, maxRequestsPerSocket: 3 });
  });
  afterAll(async () => {
    server.webhook.server.closeAllConnections();
    await server.webhook.shutdown();
  });

  it('slow headers are cut off with 408 and the connection closed', async () => {
    const c = await connect(server.port);
    c.socket.write(`POST /validate HTTP/1.1\r\nhost: ${SERVERNAME}\r\ncontent-type: application/json\r\n`);
    expect(await c.closed).toBe('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
  });

  it('a slow body is cut off with 408 and the connection closed; nothing is reviewed', async () => {
    const c = await connect(server.port);
    c.socket.write(`POST /validate HTTP/1.1\r\nhost: ${SERVERNAME}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"apiVersion":`);
    expect(await c.closed).toBe('HTTP/1.1 408 Request Timeout\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    // The aborted request leaves no review in flight (shutdown would otherwise wait for it).
    while (server.webhook.inFlight() !== 0) await new Promise((r) => setImmediate(r));
    expect(server.webhook.inFlight()).toBe(0);
  });

  it('a declared body over the limit is refused with 413 before a byte of it is sent, and the connection closed', async () => {
    const c = await connect(server.port);
    c.socket.write(`POST /mutate HTTP/1.1\r\nhost: ${SERVERNAME}\r\ncontent-type: application/json\r\ncontent-length: ${LIMIT + 1}\r\n\r\n`);
    const text = await c.closed;
    expect(text).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(text).toContain('\r\nconnection: close\r\n');
    expect(text.slice(text.indexOf('\r\n\r\n') + 4)).toBe(
      `{"apiVersion":"v1","kind":"Status","status":"Failure","code":413,"reason":"BODY_TOO_LARGE","message":"request body too large: the body is ${LIMIT + 1} bytes, over the ${LIMIT}-byte limit (server.maxBodyBytes in the config)"}`,
    );
  });

  it('a chunked body is refused with 413 as soon as it passes the limit, without reading the rest', async () => {
    const c = await connect(server.port);
    c.socket.write(`POST /validate HTTP/1.1\r\nhost: ${SERVERNAME}\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n`);
    const chunk = 'x'.repeat(16 * 1024);
    for (let i = 0; i < 5; i++) c.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    const text = await c.until((d) => d.endsWith('}'));
    expect(text).toMatch(/^HTTP\/1\.1 413 Payload Too Large\r\n/);
    expect(text).toContain(`over the ${LIMIT}-byte limit`);
    expect(await c.closed).toBe(text);
  });

  it('keep-alive is bounded: the third request on one connection is answered with connection: close', async () => {
    const c = await connect(server.port);
    for (let i = 1; i <= 3; i++) {
      c.socket.write(post(BODY));
      await c.until((d) => d.split('"allowed":true}}').length - 1 === i);
    }
    const text = await c.closed;
    const responses = text.split('HTTP/1.1 ').slice(1);
    expect(responses.map((r) => r.slice(0, 6))).toEqual(['200 OK', '200 OK', '200 OK']);
    expect(responses.map((r) => /\r\nconnection: close\r\n/i.test(r))).toEqual([false, false, true]);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const c = await connect(server.port);
    c.socket.write(post(BODY));
    const text = await c.closed;
    // One answer, then the server (not the client) closed the idle connection.
    expect(text.split('HTTP/1.1 ').length).toBe(2);
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\nKeep-Alive: timeout=0, max=3\r\n/);
  });

  it('concurrent connections are capped: the one over the cap is dropped before the handshake', async () => {
    const capped = await serve({ maxConnections: 2 });
    const open = [await connect(capped.port), await connect(capped.port)];
    const over = tls.connect({ host: '127.0.0.1', port: capped.port, ca: certs.caCert, servername: SERVERNAME });
    over.on('error', () => {});
    let handshook = false;
    over.on('secureConnect', () => (handshook = true));
    await new Promise((resolve) => over.on('close', resolve)); // not once(): it rejects on the expected 'error'
    expect(handshook).toBe(false);
    for (const c of open) c.socket.destroy();
    await capped.webhook.shutdown();
  });
});

function clientCertificate(ca: CertBundle): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048 });
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: 'kube-apiserver' }]);
  cert.setIssuer(forge.pki.certificateFromPem(ca.caCert).subject.attributes);
  cert.setExtensions([{ name: 'extKeyUsage', clientAuth: true }]);
  cert.sign(forge.pki.privateKeyFromPem(ca.caKey), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

describe('client authentication (clientCa)', () => {
  it('accepts a client certificate signed by the client CA and refuses others at the handshake', async () => {
    const clientCa = createCertBundle({ service: 'kube-apiserver', namespace: 'kube-system' });
    const stranger = createCertBundle({ service: 'stranger', namespace: 'elsewhere' });
    const server = await serve({ clientCa: clientCa.caCert });
    try {
      const good = await connect(server.port, clientCertificate(clientCa));
      good.socket.write(post(BODY, 'connection: close\r\n'));
      expect(await good.closed).toMatch(/^HTTP\/1\.1 200 OK\r\n/);

      for (const identity of [{}, clientCertificate(stranger)]) {
        const bad = tls.connect({ host: '127.0.0.1', port: server.port, ca: certs.caCert, servername: SERVERNAME, ...identity });
        const outcome = await new Promise<string>((resolve) => {
          bad.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
          bad.on('data', () => resolve('data'));
          bad.on('secureConnect', () => bad.write(post(BODY)));
          bad.on('close', () => resolve('closed'));
        });
        expect(outcome).not.toBe('data');
        expect(['ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED', 'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA', 'ECONNRESET', 'closed']).toContain(outcome);
      }
    } finally {
      await server.webhook.shutdown();
    }
  });
});
