/**
 * makePageLister against a fake API server on loopback that counts its connections: the pages of a list share one
 * kept-alive connection, every request carries the KubeConfig's credentials as they are at that moment, and a changed
 * client certificate gets a new connection. The fake authenticates as kube-apiserver does (a known bearer token or a
 * client certificate its CA signed, else 401) and answers refusals with a Status.
 */
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { once } from 'node:events';
import forge from 'node-forge';
import { afterEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '../../src/kube/client.js';
import type { KubeObject } from '../../src/kube/types.js';
import { knownKind, WORLD_KEYS } from '../../src/kube/registry.js';
import { createCertBundle } from '../../src/tls/certs.js';
import { listAll, listEach, ListFailed, makePageLister, type ListedKind } from '../../src/world/list-page.js';
import { listCluster } from '../../src/audit/audit.js';

const POD_KIND = knownKind(WORLD_KEYS.pod);
/** A custom kind served at v1alpha1 only: its preferred v1 answers 404. */
const WIDGET: ListedKind = { key: 'example.io/Widget', group: 'example.io', plural: 'widgets', versions: ['v1', 'v1alpha1'] };

const status = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });

/** Pods as kube-apiserver lists them: no apiVersion or kind on the items. */
function pods(count: number): KubeObject[] {
  return Array.from({ length: count }, (_, i) => ({
    metadata: { name: `envoy-${i}`, namespace: 'envoy-gateway-system', labels: { 'app.kubernetes.io/managed-by': 'envoy-gateway' }, creationTimestamp: '2026-11-22T13:29:36Z' },
    spec: { containers: [{ name: 'envoy', image: 'envoyproxy/envoy:distroless-v1.36.0' }] },
  }));
}

interface Seen {
  url: string;
  authorization: string | undefined;
  /** The client certificate's common name, when the connection presented one its CA signed. */
  clientCn: string | undefined;
  socket: number;
}

class FakeListApi {
  readonly seen: Seen[] = [];
  readonly tokens = new Set<string>();
  /** Users (token or certificate CN) that RBAC forbids to list pods. */
  readonly forbidden = new Set<string>();
  connections = 0;
  closedConnections = 0;
  private readonly socketIds = new WeakMap<Socket, number>();
  private readonly sockets = new Set<Socket>();

  constructor(
    readonly server: http.Server | https.Server,
    private readonly stored: { pods: KubeObject[]; widgets: KubeObject[] },
  ) {
    server.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.handle(req, res));
    // Connections that completed a TLS handshake (secureConnection) or plain ones.
    server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (s: Socket) => {
      this.socketIds.set(s, ++this.connections);
      this.sockets.add(s);
      s.on('close', () => {
        this.closedConnections++;
        this.sockets.delete(s);
      });
    });
  }

  async listen(): Promise<string> {
    this.server.listen(0, '127.0.0.1');
    await once(this.server, 'listening');
    const scheme = this.server instanceof https.Server ? 'https' : 'http';
    return `${scheme}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    const closed = once(this.server, 'close');
    this.server.close();
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const socket = req.socket as TLSSocket;
    const clientCn = socket.authorized ? (socket.getPeerCertificate().subject?.CN as string | undefined) : undefined;
    const authorization = req.headers.authorization;
    this.seen.push({ url: req.url!, authorization, clientCn, socket: this.socketIds.get(socket) ?? 0 });
    const json = (code: number, body: unknown): void => {
      res.writeHead(code, { 'content-type': 'application/json' }).end(JSON.stringify(body));
    };
    const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : undefined;
    const user = token && this.tokens.has(token) ? token : clientCn;
    if (!user) return json(401, status(401, 'Unauthorized', 'Unauthorized'));

    const url = new URL(req.url!, 'http://fake');
    let items: KubeObject[];
    if (url.pathname === '/api/v1/pods') {
      if (this.forbidden.has(user)) {
        return json(403, status(403, 'Forbidden', `pods is forbidden: User "${user}" cannot list resource "pods" in API group "" at the cluster scope`));
      }
      const selector = url.searchParams.get('labelSelector');
      items = this.stored.pods.filter((p) => !selector || selector.split(',').every((t) => p.metadata?.labels?.[t.split('=')[0]!] === t.split('=')[1]));
    } else if (url.pathname === '/apis/example.io/v1alpha1/namespaces/team-a/widgets') {
      items = this.stored.widgets.filter((w) => w.metadata?.namespace === 'team-a');
    } else {
      return json(404, status(404, 'NotFound', 'the server could not find the requested resource'));
    }
    const limit = Number(url.searchParams.get('limit') ?? items.length);
    const offset = Number(url.searchParams.get('continue') ?? '0');
    const more = offset + limit < items.length;
    json(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '4711', ...(more ? { continue: String(offset + limit) } : {}) }, items: items.slice(offset, offset + limit) });
  }
}

/** A client certificate (clientAuth) for `cn`, signed by `ca`. */
function clientCert(ca: { cert: string; key: string }, cn: string): { cert: string; key: string } {
  const keys = forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
  const cert = forge.pki.createCertificate();
  const caCert = forge.pki.certificateFromPem(ca.cert);
  cert.publicKey = keys.publicKey;
  cert.serialNumber = cn === 'client-1' ? '01' : '02';
  cert.validity.notBefore = new Date(Date.now() - 3_600_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  cert.setSubject([{ name: 'commonName', value: cn }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', clientAuth: true },
  ]);
  cert.sign(forge.pki.privateKeyFromPem(ca.key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key: forge.pki.privateKeyToPem(keys.privateKey) };
}

const b64 = (pem: string) => Buffer.from(pem).toString('base64');

/** A KubeConfig whose user object the test may change between requests (a token or certificate refreshed). */
function kubeConfig(server: string, cluster: Record<string, unknown>, user: { token?: string; certData?: string; keyData?: string }): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'fake', server, skipTLSVerify: false, ...cluster }],
    // The user object itself, not a copy: the tests change it as a refresh would.
    users: [Object.assign(user, { name: 'me' })],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'me' }],
    currentContext: 'fake',
  });
  return kc;
}

let api: FakeListApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

/** One CA signs the server certificate (127.0.0.1) and the client certificates. */
const tlsBundle = createCertBundle({ service: 'apiserver', namespace: 'default', extraSans: ['127.0.0.1'] });
const caForClients = { cert: tlsBundle.caCert, key: tlsBundle.caKey };

function httpsApi(stored: { pods: KubeObject[]; widgets: KubeObject[] }): FakeListApi {
  const server = https.createServer({ cert: tlsBundle.cert, key: tlsBundle.key, ca: tlsBundle.caCert, requestCert: true, rejectUnauthorized: false });
  return new FakeListApi(server, stored);
}

describe('makePageLister', () => {
  it('lists every page over one kept-alive TLS connection, with exact query strings, plain objects and fresh tokens', async () => {
    api = httpsApi({ pods: pods(5), widgets: [] });
    api.tokens.add('token-1').add('token-2');
    const url = await api.listen();
    const user = { token: 'token-1' };
    const kc = kubeConfig(url, { caData: b64(tlsBundle.caCert) }, user);
    const listPage = makePageLister(kc);

    const names: string[] = [];
    let pages = 0;
    const onPage = () => {
      // The token is refreshed between the second and the third page.
      if (++pages === 2) user.token = 'token-2';
    };
    const version = await listEach(listPage, POD_KIND, { pageSize: 2, onPage }, () => (o) => {
      names.push(`${o.apiVersion} ${o.kind} ${o.metadata?.name} ${String(o.metadata?.creationTimestamp)}`);
    });

    expect(version).toBe('v1');
    expect(names).toEqual([0, 1, 2, 3, 4].map((i) => `v1 Pod envoy-${i} 2026-11-22T13:29:36Z`));
    expect(api.seen).toEqual([
      { url: '/api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Denvoy-gateway&limit=2', authorization: 'Bearer token-1', clientCn: undefined, socket: 1 },
      { url: '/api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Denvoy-gateway&limit=2&continue=2', authorization: 'Bearer token-1', clientCn: undefined, socket: 1 },
      { url: '/api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Denvoy-gateway&limit=2&continue=4', authorization: 'Bearer token-2', clientCn: undefined, socket: 1 },
    ]);
    expect(api.connections).toBe(1);

    // A second list by the same lister reuses the connection too.
    await listAll(listPage, POD_KIND, { pageSize: 5 });
    expect(api.connections).toBe(1);
    expect(api.seen.length).toBe(4);
  });

  it('moves on to the next version on a 404 and lists one namespace under /namespaces/<ns>/', async () => {
    const widgets = ['a', 'b', 'c'].map((n) => ({ apiVersion: 'example.io/v1alpha1', kind: 'Widget', metadata: { name: n, namespace: 'team-a' } }));
    api = httpsApi({ pods: [], widgets: [...widgets, { apiVersion: 'example.io/v1alpha1', kind: 'Widget', metadata: { name: 'x', namespace: 'team-b' } }] });
    api.tokens.add('token-1');
    const url = await api.listen();
    const listed = await listAll(makePageLister(kubeConfig(url, { caData: b64(tlsBundle.caCert) }, { token: 'token-1' })), WIDGET, { namespace: 'team-a', pageSize: 2 });

    expect(listed).toEqual({ version: 'v1alpha1', items: widgets });
    expect(api.seen.map((s) => `${s.url} socket ${s.socket}`)).toEqual([
      '/apis/example.io/v1/namespaces/team-a/widgets?limit=2 socket 1',
      '/apis/example.io/v1alpha1/namespaces/team-a/widgets?limit=2 socket 1',
      '/apis/example.io/v1alpha1/namespaces/team-a/widgets?limit=2&continue=2 socket 1',
    ]);
  });

  it("reports a refused list with the API server's Status message, and a missing token as 401", async () => {
    api = httpsApi({ pods: pods(1), widgets: [] });
    api.tokens.add('audit-token');
    api.forbidden.add('audit-token');
    const url = await api.listen();
    const ca = { caData: b64(tlsBundle.caCert) };

    await expect(listCluster(makePageLister(kubeConfig(url, ca, { token: 'audit-token' })), { kinds: [POD_KIND] })).rejects.toThrow(
      'listing v1 pods failed: HTTP 403: pods is forbidden: User "audit-token" cannot list resource "pods" in API group "" at the cluster scope',
    );
    await expect(listCluster(makePageLister(kubeConfig(url, ca, {})), { kinds: [POD_KIND] })).rejects.toThrow('listing v1 pods failed: HTTP 401: Unauthorized');
    expect(api.seen.map((s) => s.authorization)).toEqual(['Bearer audit-token', undefined]);
  });

  it('opens a new connection with the new client certificate when it changes, and closes the old one', async () => {
    api = httpsApi({ pods: pods(4), widgets: [] });
    const url = await api.listen();
    const first = clientCert(caForClients, 'client-1');
    const second = clientCert(caForClients, 'client-2');
    const user = { certData: b64(first.cert), keyData: b64(first.key) };
    const listPage = makePageLister(kubeConfig(url, { caData: b64(tlsBundle.caCert) }, user));

    const firstClosed = new Promise<void>((resolve) => api!.server.once('secureConnection', (s: Socket) => s.once('close', () => resolve())));
    await listAll(listPage, POD_KIND, { pageSize: 2 });
    // An exec plugin or a rewritten kubeconfig rotates the client certificate.
    user.certData = b64(second.cert);
    user.keyData = b64(second.key);
    await listAll(listPage, POD_KIND, { pageSize: 2 });
    await firstClosed;

    expect(api.seen.map((s) => `${s.clientCn} socket ${s.socket}`)).toEqual(['client-1 socket 1', 'client-1 socket 1', 'client-2 socket 2', 'client-2 socket 2']);
    expect(api.connections).toBe(2);
    expect(api.closedConnections).toBe(1);
  });

  it('fails a list whose answer is over the byte cap, or that gets no complete answer in time', async () => {
    api = new FakeListApi(http.createServer(), { pods: pods(3), widgets: [] });
    api.tokens.add('token-1');
    const url = await api.listen();
    const kc = kubeConfig(url, { skipTLSVerify: true }, { token: 'token-1' });
    const pageBytes = Buffer.byteLength(JSON.stringify({ kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '4711' }, items: pods(3) }));

    const big = (await listAll(makePageLister(kc, { timeoutMs: 60_000, maxBytes: pageBytes - 1 }), POD_KIND, { pageSize: 3 }).catch((e: unknown) => e)) as ListFailed;
    expect((big.cause as Error).message).toBe(
      `GET /api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Denvoy-gateway&limit=3: the answer exceeds ${pageBytes - 1} bytes; list in smaller pages`,
    );
    expect(await listAll(makePageLister(kc, { timeoutMs: 60_000, maxBytes: pageBytes }), POD_KIND, { pageSize: 3 })).toMatchObject({ version: 'v1' });

    // An API server that takes the request and never answers.
    api.server.removeAllListeners('request');
    api.server.on('request', () => {});
    const stalled = (await listAll(makePageLister(kc, { timeoutMs: 1, maxBytes: pageBytes }), POD_KIND, { pageSize: 3 }).catch((e: unknown) => e)) as ListFailed;
    expect((stalled.cause as Error).message).toBe('GET /api/v1/pods?labelSelector=app.kubernetes.io%2Fmanaged-by%3Denvoy-gateway&limit=3: no complete answer within 1 ms');
  });

  it('keeps one plain connection to an http: server (allowed with insecure-skip-tls-verify only)', async () => {
    api = new FakeListApi(http.createServer(), { pods: pods(3), widgets: [] });
    api.tokens.add('token-1');
    const url = await api.listen();
    const listed = await listAll(makePageLister(kubeConfig(url, { skipTLSVerify: true }, { token: 'token-1' })), POD_KIND, { pageSize: 1 });

    expect(listed?.items.map((p) => p.metadata?.name)).toEqual(['envoy-0', 'envoy-1', 'envoy-2']);
    expect(api.seen.map((s) => s.socket)).toEqual([1, 1, 1]);
    const refused = (await listAll(makePageLister(kubeConfig(url, {}, { token: 'token-1' })), POD_KIND, { pageSize: 1 }).catch((e: unknown) => e)) as ListFailed;
    expect(refused).toBeInstanceOf(ListFailed);
    expect((refused.cause as Error).message).toBe('HTTP protocol is not allowed when skipTLSVerify is not set or false');
    expect(api.seen.length).toBe(3);
  });
});
