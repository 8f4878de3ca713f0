import https from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express from 'express';
import { AdmissionError, asAdmissionError } from '../review/errors.js';
import { answerReviewSliced, statusBody } from './answer.js';
import { LargeReviewGate } from './large-reviews.js';
import { DEFAULT_LARGE_BODY_BYTES, DEFAULT_MAX_LARGE_REVIEWS } from '../config/config.js';
import type { Logger, ReviewDeps } from '../review/deps.js';
import type { Endpoint } from '../kube/types.js';
import type { Metrics } from '../observe/metrics.js';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
}

export interface WebhookServerOptions {
  host: string;
  port: number;
  tls: TlsMaterial;
  /** Current dependencies; called once per review so a config reload takes effect on the next request. */
  deps(): ReviewDeps;
  maxBodyBytes(): number;
  /** Bodies of at least this many bytes count as large; at most `maxLargeReviews()` of them are reviewed at once. */
  largeBodyBytes?(): number;
  maxLargeReviews?(): number;
  metrics: Metrics;
  logger: Logger;
  /** Extra readiness conditions (policies, certs, cluster cache). */
  readiness(): Readiness;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** Concurrent TLS connections; more are dropped at accept (default 1024). */
  maxConnections?: number;
  /** Requests served on one keep-alive connection before it is closed, so load spreads over replicas (default 1000). */
  maxRequestsPerSocket?: number;
  /** How often slow headers and bodies are looked for (Node's default is 30 s; ours is 1 s so the timeouts hold). */
  connectionsCheckingIntervalMs?: number;
  /** PEM CA that must have signed the client certificate (the API server's); without it any client may connect. */
  clientCa?: string;
  /**
   * How long shutdown keeps accepting reviews with readiness false before it stops listening: the API server keeps
   * sending to a terminating pod until its endpoint is removed, and a refused connection is a failed admission call.
   */
  shutdownDelayMs?: number;
  /** How long shutdown waits for in-flight reviews before closing what is left. */
  drainTimeoutMs?: number;
}

export interface WebhookServer {
  server: https.Server;
  listen(): Promise<AddressInfo>;
  /** Readiness false, stop accepting, finish in-flight reviews, close. */
  shutdown(): Promise<void>;
  /** Serve a new certificate to new handshakes; open connections keep theirs. */
  setTls(tls: TlsMaterial): void;
  inFlight(): number;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function isJsonContentType(value: string | undefined): boolean {
  if (!value) return false;
  const semi = value.indexOf(';');
  const type = (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
  return type === 'application/json';
}

export function createWebhookServer(opts: WebhookServerOptions): WebhookServer {
  let draining = false;
  let inFlight = 0;
  const largeBodyBytes = () => opts.largeBodyBytes?.() ?? DEFAULT_LARGE_BODY_BYTES;
  const largeReviews = new LargeReviewGate(() => opts.maxLargeReviews?.() ?? DEFAULT_MAX_LARGE_REVIEWS);

  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.get('/healthz', (_req, res) => {
    res.type('text/plain').send('ok\n');
  });
  app.get('/readyz', (_req, res) => {
    const r = opts.readiness();
    const reasons = draining ? ['shutting down', ...r.reasons] : r.reasons;
    const ready = r.ready && !draining;
    res.status(ready ? 200 : 503).json({ ready, reasons });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(opts.metrics.registry.contentType).send(await opts.metrics.registry.metrics());
  });
  app.use((req, res) => {
    const err = new AdmissionError('NOT_FOUND', `${req.method} ${req.path}: the endpoints are POST /validate, POST /mutate, GET /healthz, GET /readyz, GET /metrics`);
    res.status(404).type('application/json').send(statusBody(err));
  });

  const fail = (endpoint: string, res: ServerResponse, err: AdmissionError, close = false): void => {
    opts.metrics.httpErrors.inc({ endpoint, code: String(err.status) });
    if (err.isUserError) opts.logger.warn({ event: 'bad_request', endpoint, code: err.code, status: err.status, message: err.message }, 'request refused');
    else opts.logger.error({ event: 'internal_error', endpoint, err: { message: (err.cause as Error)?.message, stack: (err.cause as Error)?.stack } }, 'internal error');
    const body = statusBody(err);
    const headers: Record<string, string | number> = { ...JSON_HEADERS, 'content-length': Buffer.byteLength(body) };
    if (close || draining) headers.connection = 'close';
    if (err.status === 405) headers.allow = 'POST';
    res.writeHead(err.status, headers).end(body);
  };

  // The review path bypasses express: one read of the raw body, one JSON.parse, no middleware stack.
  const handleReview = (endpoint: Endpoint, req: IncomingMessage, res: ServerResponse): void => {
    if (req.method !== 'POST') return fail(endpoint, res, new AdmissionError('METHOD_NOT_ALLOWED', `${req.method} /${endpoint}: send the AdmissionReview with POST`));
    if (!isJsonContentType(req.headers['content-type'])) {
      req.resume();
      return fail(endpoint, res, new AdmissionError('UNSUPPORTED_MEDIA_TYPE', `content-type is ${req.headers['content-type'] ? `"${req.headers['content-type']}"` : 'missing'}; send application/json`));
    }
    const limit = opts.maxBodyBytes();
    const tooLarge = (size: string) =>
      new AdmissionError('BODY_TOO_LARGE', `the body is ${size} bytes, over the ${limit}-byte limit (server.maxBodyBytes in the config)`);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      // Refuse before reading; close so the unread body is not parsed as the next request.
      return fail(endpoint, res, tooLarge(String(declared)), true);
    }
    inFlight++;
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    let release: (() => void) | undefined;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
      release?.();
    };
    res.once('close', finish);
    const read = () => {
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > limit) {
          finish();
          req.removeAllListeners('data');
          req.pause();
          fail(endpoint, res, tooLarge(`more than ${limit}`), true);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', async () => {
        if (done) return;
        // A large body sent without Content-Length takes its turn now that its size is known.
        if (!release && size >= largeBodyBytes()) release = await largeReviews.acquire();
        if (done) return release?.();
        let answer;
        try {
          answer = await answerReviewSliced(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), endpoint, opts.deps());
        } catch (err) {
          answer = { status: 500, body: '', error: asAdmissionError(err) };
        }
        chunks.length = 0;
        if (done) return release?.();
        if (answer.error) fail(endpoint, res, answer.error);
        else {
          const headers: Record<string, string | number> = { ...JSON_HEADERS, 'content-length': Buffer.byteLength(answer.body) };
          if (draining) headers.connection = 'close';
          res.writeHead(200, headers).end(answer.body);
        }
        finish();
      });
      req.on('error', finish);
    };
    // A large body waits for its turn before it is read, so waiting bodies do not pile up in memory.
    if (Number.isFinite(declared) && declared >= largeBodyBytes()) {
      largeReviews.acquire().then((r) => {
        release = r;
        if (done) return r();
        read();
      });
    } else read();
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?'); // the API server appends ?timeout=…
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/validate') return handleReview('validate', req, res);
    if (path === '/mutate') return handleReview('mutate', req, res);
    app(req, res);
  };

  const tlsOptions = (tls: TlsMaterial): https.ServerOptions => ({
    cert: tls.cert,
    key: tls.key,
    minVersion: 'TLSv1.2',
    // Client authentication, when configured, refuses foreign clients at the handshake, before any byte of HTTP.
    ...(opts.clientCa ? { ca: opts.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const server = https.createServer({ ...tlsOptions(opts.tls), connectionsCheckingInterval: opts.connectionsCheckingIntervalMs ?? 1000 }, onRequest);
  server.headersTimeout = opts.headersTimeoutMs ?? 10_000;
  server.requestTimeout = opts.requestTimeoutMs ?? 30_000;
  server.keepAliveTimeout = opts.keepAliveTimeoutMs ?? 30_000;
  server.maxConnections = opts.maxConnections ?? 1024;
  server.maxRequestsPerSocket = opts.maxRequestsPerSocket ?? 1000;
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (socket.writable && err.code !== 'ECONNRESET') {
      const code = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${code}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    } else socket.destroy();
  });
  server.on('tlsClientError', (err) => opts.logger.debug({ event: 'tls_error', message: err.message }, 'TLS handshake failed'));

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
    shutdown: async () => {
      draining = true;
      if (opts.shutdownDelayMs) await new Promise((r) => setTimeout(r, opts.shutdownDelayMs));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), opts.drainTimeoutMs ?? 10_000);
        timer.unref();
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        server.closeIdleConnections();
      });
    },
    setTls: (tls) => server.setSecureContext(tlsOptions(tls)),
    inFlight: () => inFlight,
  };
}
