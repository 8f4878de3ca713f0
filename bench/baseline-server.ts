/**
 * The baselines the webhook is measured against, on the same TLS certificate:
 * `node dist/bench/baseline-server.js node|express TLS_DIR` listens on 127.0.0.1 (a free port), prints the port,
 * and answers every POST by reading the body, JSON.parse-ing it and allowing it with its uid.
 */
import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';

const [flavour, tlsDir] = process.argv.slice(2);
if ((flavour !== 'node' && flavour !== 'express') || !tlsDir) {
  process.stderr.write('usage: baseline-server.js node|express TLS_DIR\n');
  process.exit(2);
}
const tls = { cert: readFileSync(join(tlsDir, 'tls.crt')), key: readFileSync(join(tlsDir, 'tls.key')), minVersion: 'TLSv1.2' as const };
const MAX_BODY = 3 * 1024 * 1024;

const allow = (uid: unknown) => JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid, allowed: true } });

function bareNode(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    let text: string;
    try {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request?: { uid?: unknown } };
      text = allow(review.request?.uid);
    } catch {
      res.writeHead(400).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  });
}

function bareExpress(): express.Express {
  const app = express();
  app.use(express.json({ limit: MAX_BODY }));
  app.post(['/validate', '/mutate'], (req, res) => {
    res.json({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: (req.body as { request?: { uid?: unknown } }).request?.uid, allowed: true } });
  });
  return app;
}

const server = https.createServer(tls, flavour === 'node' ? bareNode : bareExpress());
server.keepAliveTimeout = 30_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)).closeAllConnections());
