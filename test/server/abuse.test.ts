/** Connection abuse, each case on a raw TLS socket with the exact outcome (issue 9 part 4) and client authentication (part 7). */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import tls from 'node:tls';
import net from 'node:net';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { createWebhookServer, TLS12_CIPHERS, type WebhookServer, type WebhookServerOptions } from '../../src/server/server.js';
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

async function serve(overrides: Partial<WebhookServerOptions> = {}): Promise<{ webhook: WebhookServer; port: number; metrics: Metrics }> {
  const metrics = new Metrics();
  const webhook = createWebhookServer({
    host: '127.0.0.1',
    port: 0,
    tls: { cert: certs.cert, key: certs.key },
    deps: () => deps({ world: fallingOverWorld() }),
    maxBodyBytes: () => LIMIT,
    metrics,
    logger: silentLogger,
    readiness: () => ({ ready: true, reasons: [] }),
    headersTimeoutMs: 300,
    requestTimeoutMs: 600,
    keepAliveTimeoutMs: 300,
    connectionsCheckingIntervalMs: 50,
    ...overrides,
  });
  const { port } = await webhook.listen();
  return { webhook, port, metrics };
}

/** aigw_admission_connections_dropped_total by reason. */
async function droppedCounts(metrics: Metrics): Promise<Record<string, number>> {
  return Object.fromEntries((await metrics.connectionsDropped.get()).values.map((v) => [v.labels.reason, v.value]));
}

/** A TCP connection that never sends a TLS hello, and its close. */
async function silentSocket(port: number): Promise<{ socket: net.Socket; closed: Promise<boolean> }> {
  const socket = net.connect(port, '127.0.0.1');
  socket.on('error', () => {});
  const closed = once(socket, 'close').then(() => true);
  await once(socket, 'connect');
  return { socket, closed };
}

async function until(condition: () => Promise<boolean> | boolean): Promise<void> {
  while (!(await condition())) await new Promise((r) => setImmediate(r));
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

  it('a client that hangs up mid-body leaves no review in flight', async () => {
    const c = await connect(server.port);
    c.socket.write(`POST /validate HTTP/1.1\r\nhost: ${SERVERNAME}\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{"apiVersion":`);
    await until(() => server.webhook.inFlight() === 1);
    c.socket.destroy();
    await c.closed;
    await until(() => server.webhook.inFlight() === 0);
    expect(server.webhook.inFlight()).toBe(0);
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

describe('connections that never send a request (issue 15 item 5)', () => {
  it('a socket that never sends a TLS hello is closed at the handshake timeout', async () => {
    const server = await serve({ handshakeTimeoutMs: 50 });
    try {
      const silent = await silentSocket(server.port);
      let received = '';
      silent.socket.on('data', (d) => (received += d));
      expect(await silent.closed).toBe(true);
      expect(received).toBe('');
      expect(await droppedCounts(server.metrics)).toEqual({ handshake_timeout: 1 });
    } finally {
      await server.webhook.shutdown();
    }
  });

  it('a socket that finishes the handshake and then says nothing is closed at the first-request timeout', async () => {
    const server = await serve({ firstRequestTimeoutMs: 50 });
    try {
      const c = await connect(server.port);
      expect(await c.closed).toBe('');
      expect(await droppedCounts(server.metrics)).toEqual({ first_request_timeout: 1 });
    } finally {
      await server.webhook.shutdown();
    }
  });

  it('sockets without a hello cannot fill the connection cap: the oldest unfinished handshake makes room', async () => {
    // Long handshake timeout: only the bound on unfinished handshakes is at work here.
    const server = await serve({ maxConnections: 4, maxPendingHandshakes: 2, handshakeTimeoutMs: 600_000 });
    try {
      const silent = [];
      for (let i = 0; i < 6; i++) silent.push(await silentSocket(server.port));
      await until(async () => (await droppedCounts(server.metrics)).evicted === 4);
      // The API server's connection gets in although six silent sockets arrived before it, over the cap of 4.
      const apiServer = await connect(server.port);
      apiServer.socket.write(post(BODY, 'connection: close\r\n'));
      expect(await apiServer.closed).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      // The four oldest went first, then the fifth to make room for the API server's handshake; the newest is still open.
      expect(await Promise.all(silent.slice(0, 5).map((s) => s.closed))).toEqual([true, true, true, true, true]);
      expect(silent[5]!.socket.destroyed).toBe(false);
      expect(await droppedCounts(server.metrics)).toEqual({ evicted: 5 });
      silent[5]!.socket.destroy();
    } finally {
      await server.webhook.shutdown();
    }
  });
});

describe('TLS parameters (issue 15 item 10)', () => {
  let server: { webhook: WebhookServer; port: number; metrics: Metrics };
  beforeAll(async () => {
    server = await serve();
  });
  afterAll(async () => {
    await server.webhook.shutdown();
  });

  /** The handshake's outcome: the protocol and cipher agreed, or the error code. */
  const handshake = (options: tls.ConnectionOptions) =>
    new Promise<string>((resolve) => {
      let socket: tls.TLSSocket;
      try {
        socket = tls.connect({ host: '127.0.0.1', port: server.port, ca: certs.caCert, servername: SERVERNAME, ...options });
      } catch (err) {
        return resolve(`client: ${(err as NodeJS.ErrnoException).code}`); // a cipher this OpenSSL cannot offer
      }
      socket.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
      socket.on('secureConnect', () => {
        resolve(`${socket.getProtocol()} ${socket.getCipher().standardName}`);
        socket.destroy();
      });
    });

  it('TLS 1.3 is chosen when the client offers it', async () => {
    expect(await handshake({})).toBe('TLSv1.3 TLS_AES_128_GCM_SHA256');
  });

  it('TLS 1.2: of every cipher suite this OpenSSL offers, exactly the ECDHE+AEAD ones are accepted (RSA certificate)', async () => {
    const accepted: string[] = [];
    const refusals = new Set<string>();
    for (const cipher of tls.getCiphers()) {
      const outcome = await handshake({ ciphers: cipher.toUpperCase(), maxVersion: 'TLSv1.2' });
      if (outcome.startsWith('TLSv1.2 ')) accepted.push(cipher.toUpperCase());
      // Suites the client cannot offer in TLS 1.2 (TLS 1.3 names, PSK) fail on the client's side.
      else if (!outcome.startsWith('client: ') && outcome !== 'ERR_SSL_NO_CIPHERS_AVAILABLE') refusals.add(outcome);
    }
    expect(accepted).toEqual(TLS12_CIPHERS.filter((c) => c.startsWith('ECDHE-RSA-')).sort());
    expect([...refusals]).toEqual(['ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE']);
    // Named refusals: RSA key exchange (no forward secrecy) and CBC with SHA-1.
    expect(await handshake({ ciphers: 'AES128-GCM-SHA256', maxVersion: 'TLSv1.2' })).toBe('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
    expect(await handshake({ ciphers: 'ECDHE-RSA-AES128-SHA', maxVersion: 'TLSv1.2' })).toBe('ERR_SSL_SSLV3_ALERT_HANDSHAKE_FAILURE');
  });

  it('refuses a client-initiated renegotiation on TLS 1.2', async () => {
    const c = await connect(server.port, { maxVersion: 'TLSv1.2' });
    c.closed.catch(() => {}); // it ends with the error
    const error = new Promise<string>((resolve) => c.socket.on('error', (e: Error) => resolve(e.message)));
    c.socket.renegotiate({}, () => {});
    c.socket.write(post(BODY));
    expect(await error).toMatch(/no renegotiation/);
  });

  it('minTlsVersion TLSv1.3 refuses a TLS 1.2 client', async () => {
    const strict = await serve({ minTlsVersion: 'TLSv1.3' });
    try {
      const outcome = await new Promise<string>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port: strict.port, ca: certs.caCert, servername: SERVERNAME, maxVersion: 'TLSv1.2' });
        s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code!));
        s.on('secureConnect', () => resolve('connected'));
      });
      expect(outcome).toBe('ERR_SSL_TLSV1_ALERT_PROTOCOL_VERSION');
    } finally {
      await strict.webhook.shutdown();
    }
  });
});

describe('shutdown on keep-alive connections (issue 15 item 7)', () => {
  it('during the delay every answer closes its connection; then idle sockets are closed and in-flight requests finish', async () => {
    // Long timeouts: only shutdown closes anything here.
    const server = await serve({ keepAliveTimeoutMs: 600_000, headersTimeoutMs: 600_000, requestTimeoutMs: 600_000, firstRequestTimeoutMs: 600_000 });
    const responses = (text: string) => text.split('HTTP/1.1 ').slice(1);
    const reused = await connect(server.port);
    const idle = await connect(server.port);
    for (const c of [reused, idle]) {
      c.socket.write(post(BODY));
      await c.until((d) => d.endsWith('}}'));
    }
    const inFlight = await connect(server.port);
    const request = post(BODY);
    inFlight.socket.write(request.slice(0, request.length - 10));
    await until(() => server.webhook.inFlight() === 1);

    let endDelay!: () => void;
    let closed = false;
    const closing = server.webhook.shutdown(new Promise<void>((resolve) => (endDelay = resolve))).then(() => (closed = true));
    // A review and a probe on a keep-alive socket during the delay: answered, with Connection: close, then closed.
    reused.socket.write(post(BODY));
    const reusedText = await reused.closed;
    expect(responses(reusedText).map((r) => [r.slice(0, 6), /\r\nconnection: close\r\n/i.test(r)])).toEqual([['200 OK', false], ['200 OK', true]]);
    const probe = await connect(server.port);
    probe.socket.write(`GET /healthz HTTP/1.1\r\nhost: ${SERVERNAME}\r\n\r\n`);
    const probeText = await probe.closed;
    expect(probeText).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(probeText).toMatch(/\r\nConnection: close\r\n/i);

    endDelay();
    // The socket idle since before shutdown is closed without a byte more; the one mid-request is not.
    expect(responses(await idle.closed)).toHaveLength(1);
    expect(closed).toBe(false);
    expect(inFlight.socket.destroyed).toBe(false);
    inFlight.socket.write(request.slice(request.length - 10));
    const inFlightText = await inFlight.closed;
    expect(responses(inFlightText).map((r) => [r.slice(0, 6), /\r\nconnection: close\r\n/i.test(r)])).toEqual([['200 OK', true]]);
    expect(inFlightText).toContain('"allowed":true');
    await closing;
    expect(server.webhook.inFlight()).toBe(0);
  });
});
