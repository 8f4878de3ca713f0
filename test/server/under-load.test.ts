/**
 * Issue 9 part 5: continuous reviews while the server shuts down, and while its certificate is replaced. Like the API server, the clients stop sending once the
 * endpoint is gone (here: once /readyz says 503); every review sent before that must be answered, well-formed.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import https from 'node:https';
import { startServer } from '../../src/server/serve.js';
import { silentLogger } from '../../src/review/deps.js';
import { ROOT } from '../helpers.js';
import { X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import { tlsDirSource } from '../../src/tls/source.js';
import { createCertBundle, writeCertBundle } from '../../src/tls/certs.js';

const BODY = readFileSync(join(ROOT, 'test/fixtures/admission-reviews/aigatewayroute-stream-idle-too-long.json'), 'utf8');
const UID = JSON.parse(BODY).request.uid;

describe('graceful shutdown under load', () => {
  it('readiness turns false first, reviews keep being answered during the delay, in-flight ones finish: 0 failed', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-shutdown-'));
    const server = await startServer({ host: '127.0.0.1', port: 0, tlsDir, standalone: true, logger: silentLogger, shutdownDelayMs: 1500 });
    const ca = readFileSync(join(tlsDir, 'ca.crt'), 'utf8');
    const agent = new https.Agent({ keepAlive: true, maxSockets: 8 });
    const request = (method: string, path: string, body?: string) =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        const req = https.request(
          { host: '127.0.0.1', port: server.port, method, path, ca, servername: 'aigw-admission.aigw-admission.svc', agent, headers: body ? { 'content-type': 'application/json' } : {} },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode!, text }));
          },
        );
        req.on('error', reject);
        req.end(body);
      });

    let endpointRemoved = false;
    let ok = 0;
    const failures: string[] = [];
    let started = 0;
    const worker = async () => {
      while (!endpointRemoved) {
        started++;
        try {
          const r = await request('POST', '/validate?timeout=5s', BODY);
          const out = JSON.parse(r.text);
          if (r.status === 200 && out.response.uid === UID && out.response.allowed === false) ok++;
          else failures.push(`${r.status} ${r.text.slice(0, 100)}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const workers = Array.from({ length: 6 }, worker);
    // Let load build up, then shut down while it runs.
    while (ok < 200) await new Promise((r) => setImmediate(r));
    const closing = server.close();
    const okAtShutdown = ok;
    const readiness = await request('GET', '/readyz');
    expect(readiness).toEqual({ status: 503, text: '{"ready":false,"reasons":["shutting down"]}' });
    // Reviews keep flowing during the delay, until the "endpoint" is removed.
    while (ok < okAtShutdown + 20) await new Promise((r) => setImmediate(r));
    endpointRemoved = true;
    await Promise.all(workers);
    await closing;
    agent.destroy();
    expect(failures).toEqual([]);
    expect(ok).toBe(started);
    expect(server.webhook.inFlight()).toBe(0);
  });
});

describe('certificate rotation under load', () => {
  it('the serving certificate replaced on disk: new handshakes get it, no review fails', async () => {
    const tlsDir = mkdtempSync(join(tmpdir(), 'aigw-rotate-load-'));
    const names = { service: 'aigw-admission', namespace: 'aigw-admission' };
    const source = tlsDirSource(tlsDir, names, silentLogger, 3_600_000);
    const server = await startServer({ host: '127.0.0.1', port: 0, tlsDir, standalone: true, logger: silentLogger, certs: source });
    const oldCa = readFileSync(join(tlsDir, 'ca.crt'), 'utf8');
    const renewed = createCertBundle(names);
    // The API server's caBundle during a rotation holds both CAs.
    const ca = `${oldCa}${renewed.caCert}`;
    const served = new Set<string>();
    const review = () =>
      new Promise<{ status: number; text: string }>((resolve, reject) => {
        // No keep-alive: every review is a new handshake, so each one shows which certificate is being served.
        const req = https.request(
          { host: '127.0.0.1', port: server.port, method: 'POST', path: '/validate', ca, servername: 'aigw-admission.aigw-admission.svc', agent: false, headers: { 'content-type': 'application/json' } },
          (res) => {
            served.add(new X509Certificate((res.socket as TLSSocket).getPeerX509Certificate()!.raw).fingerprint256);
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (d: string) => (text += d));
            res.on('end', () => resolve({ status: res.statusCode!, text }));
          },
        );
        req.on('error', reject);
        req.end(BODY);
      });
    let ok = 0;
    let stop = false;
    const failures: string[] = [];
    const worker = async () => {
      while (!stop) {
        try {
          const r = await review();
          if (r.status === 200 && JSON.parse(r.text).response.uid === UID) ok++;
          else failures.push(`${r.status}`);
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    while (ok < 40) await new Promise((r) => setImmediate(r));
    writeCertBundle(tlsDir, renewed);
    source.poll();
    const newFingerprint = new X509Certificate(renewed.cert).fingerprint256;
    while (!served.has(newFingerprint)) await new Promise((r) => setImmediate(r));
    const okAtSwitch = ok;
    while (ok < okAtSwitch + 40) await new Promise((r) => setImmediate(r));
    stop = true;
    await Promise.all(workers);
    await server.close();
    expect(failures).toEqual([]);
    expect(served.size).toBe(2);
  });
});
