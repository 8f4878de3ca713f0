import https from 'node:https';
import { constants as cryptoConstants } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AdmissionError, asAdmissionError } from '../review/errors.js';
import { answerReviewSliced, statusBody, type Answer } from './answer.js';
import { probeRoutes, type Readiness } from './probes.js';
import { LargeReviewGate } from './large-reviews.js';
import { DEFAULT_LARGE_BODY_BYTES, DEFAULT_MAX_LARGE_REVIEWS } from '../config/config.js';
import type { Logger, ReviewDeps } from '../review/deps.js';
import type { Endpoint } from '../kube/types.js';
import type { Metrics } from '../observe/metrics.js';

export interface TlsMaterial {
  cert: string;
  key: string;
}

export type { Readiness } from './probes.js';

/** TLS 1.3 suites (all AEAD with ephemeral keys); listed first so 1.3 is chosen whenever the client offers it. */
export const TLS13_CIPHERS = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'] as const;
/** TLS 1.2 suites: ECDHE key exchange (forward secrecy) with an AEAD cipher only; no RSA key exchange, no CBC. */
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
] as const;
export type TlsMinVersion = 'TLSv1.2' | 'TLSv1.3';

export interface WebhookServerOptions {
  host: string;
  port: number;
  /** The certificate to serve; absent, the server listens but every handshake fails until setTls (listen before writing certificates). */
  tls?: TlsMaterial;
  /** Lowest TLS version accepted (default TLSv1.2; TLSv1.3 refuses 1.2 clients altogether). */
  minTlsVersion?: TlsMinVersion;
  /** Time from TCP accept to a finished TLS handshake before the socket is closed (default 5 s; Node's is 120 s). */
  handshakeTimeoutMs?: number;
  /** Time from a finished handshake to the first request's headers before the socket is closed (default 5 s). */
  firstRequestTimeoutMs?: number;
  /**
   * Sockets still in their TLS handshake at once (default 64). One more evicts the oldest, so sockets that never
   * send a hello cannot fill the connection cap and lock the API server out.
   */
  maxPendingHandshakes?: number;
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
  /**
   * Readiness false and every answer `Connection: close` for the shutdown delay (or until `delay` settles, when
   * given), then stop listening, close idle sockets, finish in-flight requests, close.
   */
  shutdown(delay?: Promise<void>): Promise<void>;
  /** Serve a new certificate to new handshakes; open connections keep theirs. */
  setTls(tls: TlsMaterial): void;
  inFlight(): number;
}

const JSON_HEADERS = { 'content-type': 'application/json' } as const;

function bodyTooLarge(size: string, limit: number): AdmissionError {
  return new AdmissionError('BODY_TOO_LARGE', `the body is ${size} bytes, over the ${limit}-byte limit (server.maxBodyBytes in the config)`);
}

const internalAnswer = (err: unknown): Answer => ({ status: 500, body: '', error: asAdmissionError(err) });

function isJsonContentType(value: string | undefined): boolean {
  // What the API server sends, exactly: no slicing, trimming or lower-casing per request.
  if (value === 'application/json') return true;
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

  const app = probeRoutes({
    metrics: opts.metrics,
    readiness: opts.readiness,
    draining: () => draining,
    endpoints: 'POST /validate, POST /mutate, GET /healthz, GET /readyz, GET /metrics',
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
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      // Refuse before reading; close so the unread body is not parsed as the next request.
      return fail(endpoint, res, bodyTooLarge(String(declared), limit), true);
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
    // 'close' comes once per response: `on`, not `once`, which wraps the listener per request.
    res.on('close', finish);
    const send = (answer: Answer): void => {
      chunks.length = 0;
      if (done) return release?.();
      if (answer.error) fail(endpoint, res, answer.error);
      else {
        // A literal, not a spread of JSON_HEADERS: one object of one shape per answer.
        const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(answer.body) };
        if (draining) headers.connection = 'close';
        // A string, not a Buffer: Node sends the headers and a string body as one chunk (one TLS record), a Buffer
        // body as two.
        res.writeHead(200, headers).end(answer.body);
      }
      finish();
    };
    // Synchronous unless the review needed more than one slice: no promise per request.
    const answer = (): void => {
      let answered: Answer | Promise<Answer>;
      try {
        answered = answerReviewSliced(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size), endpoint, opts.deps());
      } catch (err) {
        return send(internalAnswer(err));
      }
      if (answered instanceof Promise) answered.then(send, (err: unknown) => send(internalAnswer(err)));
      else send(answered);
    };
    const read = () => {
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        size += chunk.length;
        if (size > limit) {
          finish();
          req.removeAllListeners('data');
          req.pause();
          fail(endpoint, res, bodyTooLarge(`more than ${limit}`, limit), true);
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => {
        if (done) return;
        // A large body sent without Content-Length takes its turn now that its size is known.
        if (!release && size >= largeBodyBytes()) {
          largeReviews.acquire().then((r) => {
            release = r;
            if (done) return r();
            answer();
          });
        } else answer();
      });
      // No 'error' listener on the request: a request that fails (a client gone mid-body) closes its response too,
      // and 'close' already finishes it; without listeners Node emits no error.
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
    const firstRequest = awaitingFirstRequest.get(req.socket);
    if (firstRequest) {
      clearTimeout(firstRequest);
      awaitingFirstRequest.delete(req.socket);
    }
    // While draining, every answer (probes and 404s too) closes its connection, so no keep-alive socket outlives the delay.
    if (draining) res.setHeader('connection', 'close');
    const url = req.url ?? '/';
    const q = url.indexOf('?'); // the API server appends ?timeout=…
    const path = q < 0 ? url : url.slice(0, q);
    if (path === '/validate') return handleReview('validate', req, res);
    if (path === '/mutate') return handleReview('mutate', req, res);
    app(req, res);
  };

  const tlsOptions = (tls: TlsMaterial | undefined): https.ServerOptions => ({
    ...(tls ? { cert: tls.cert, key: tls.key } : {}),
    minVersion: opts.minTlsVersion ?? 'TLSv1.2',
    ciphers: [...TLS13_CIPHERS, ...TLS12_CIPHERS].join(':'),
    honorCipherOrder: true,
    // A client-initiated TLS 1.2 renegotiation costs the server a handshake per request: refused.
    secureOptions: cryptoConstants.SSL_OP_NO_RENEGOTIATION,
    // Client authentication, when configured, refuses foreign clients at the handshake, before any byte of HTTP.
    ...(opts.clientCa ? { ca: opts.clientCa, requestCert: true, rejectUnauthorized: true } : {}),
  });
  const server = https.createServer(
    { ...tlsOptions(opts.tls), handshakeTimeout: opts.handshakeTimeoutMs ?? 5000, connectionsCheckingInterval: opts.connectionsCheckingIntervalMs ?? 1000 },
    onRequest,
  );
  const dropped = (reason: 'handshake_timeout' | 'handshake_failed' | 'evicted' | 'first_request_timeout') => opts.metrics.connectionsDropped.inc({ reason });

  // Sockets in their TLS handshake, oldest first. Node counts them against maxConnections, so without a bound of
  // their own, sockets that never send a hello would hold the cap and every new connection would be dropped.
  const handshaking = new Set<Socket>();
  const evicted = new WeakSet<Socket>();
  const maxPendingHandshakes = opts.maxPendingHandshakes ?? 64;
  server.on('connection', (raw: Socket) => {
    handshaking.add(raw);
    raw.once('close', () => handshaking.delete(raw));
    if (handshaking.size > maxPendingHandshakes) {
      const oldest = handshaking.values().next().value!;
      handshaking.delete(oldest);
      evicted.add(oldest);
      dropped('evicted');
      oldest.destroy();
    }
  });
  const awaitingFirstRequest = new WeakMap<Socket, NodeJS.Timeout>();
  const firstRequestTimeoutMs = opts.firstRequestTimeoutMs ?? 5000;
  server.on('secureConnection', (socket: TLSSocket) => {
    handshaking.delete((socket as TLSSocket & { _parent: Socket })._parent);
    // A handshake followed by silence would hold a connection until headersTimeout; a shorter bound of its own.
    const timer = setTimeout(() => {
      dropped('first_request_timeout');
      socket.destroy();
    }, firstRequestTimeoutMs);
    awaitingFirstRequest.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
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
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    // An evicted socket fails its handshake too; it is counted once, as evicted.
    if (!evicted.has((socket as TLSSocket & { _parent: Socket })._parent)) dropped(err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT' ? 'handshake_timeout' : 'handshake_failed');
    opts.logger.debug({ event: 'tls_error', code: err.code, message: err.message }, 'TLS handshake failed');
    socket.destroy();
  });

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
    shutdown: async (delay) => {
      draining = true;
      if (delay) await delay;
      else if (opts.shutdownDelayMs) await new Promise((r) => setTimeout(r, opts.shutdownDelayMs));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => server.closeAllConnections(), opts.drainTimeoutMs ?? 10_000);
        timer.unref();
        // Stop listening; sockets with a request in progress finish it (its answer says Connection: close).
        server.close(() => {
          clearTimeout(timer);
          resolve();
        });
        // Only sockets between requests are closed; no request is on them to be lost.
        server.closeIdleConnections();
        for (const raw of handshaking) raw.destroy();
      });
    },
    setTls: (tls) => server.setSecureContext(tlsOptions(tls)),
    inFlight: () => inFlight,
  };
}
