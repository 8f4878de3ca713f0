/**
 * /healthz, /readyz and /metrics: served on the webhook's HTTPS port and on a plain-HTTP probe port (`--probe-listen`)
 * that client authentication (`--client-ca`) does not cover, so kubelet probes and Prometheus need no certificate.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { AdmissionError } from '../review/errors.js';
import { statusBody } from './answer.js';
import type { Metrics } from '../observe/metrics.js';

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface ProbeRoutesOptions {
  metrics: Metrics;
  readiness(): Readiness;
  /** True from the moment shutdown starts: /readyz answers 503 `shutting down`. */
  draining(): boolean;
  /** Named in the 404 message. */
  endpoints: string;
}

export function probeRoutes(opts: ProbeRoutesOptions): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const r = opts.readiness();
    const draining = opts.draining();
    const reasons = draining ? ['shutting down', ...r.reasons] : r.reasons;
    const ready = r.ready && !draining;
    res.status(ready ? 200 : 503).json({ ready, reasons });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics());
  });
  app.use((req, res) => {
    const err = new AdmissionError('NOT_FOUND', `${req.method} ${req.path}: the endpoints are ${opts.endpoints}`);
    res.status(404).type('application/json').send(statusBody(err));
  });
  return app;
}

export interface ProbeServer {
  server: http.Server;
  listen(): Promise<AddressInfo>;
  close(): Promise<void>;
}

/** The plain-HTTP probe port: short timeouts, a small connection cap, never a request body. */
export function createProbeServer(opts: Omit<ProbeRoutesOptions, 'endpoints'> & { host: string; port: number }): ProbeServer {
  const app = probeRoutes({ ...opts, endpoints: 'GET /healthz, GET /readyz, GET /metrics (the webhook is on its HTTPS port)' });
  const server = http.createServer({ connectionsCheckingInterval: 1000 }, app);
  server.headersTimeout = 5000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5000;
  server.maxConnections = 64;
  return {
    server,
    listen: () =>
      new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(opts.port, opts.host, () => {
          server.off('error', reject);
          resolve(server.address() as AddressInfo);
        });
      }),
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
