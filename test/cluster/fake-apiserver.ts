import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeObject } from '../../src/kube/types.js';

export type CallKind = 'list' | 'watch' | 'version' | 'event' | 'get' | 'create' | 'update' | 'other';
export interface FakeCall {
  kind: CallKind;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

interface Resource {
  apiVersion: string;
  listKind: string;
  objects: Map<string, KubeObject>;
  /** Every change, for watches that resume from an older resourceVersion. */
  history: Array<{ rv: number; type: string; object: KubeObject }>;
  /** Each open watch with what it asked for (namespace, label selector). */
  watchers: Map<ServerResponse, (o: KubeObject) => boolean>;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
/** Core kinds live under /api/v1, the others under /apis/<group>/<version>. */
const prefixOf = (apiVersion: string) => (apiVersion.includes('/') ? `/apis/${apiVersion}` : `/api/${apiVersion}`);
/** Equality-based label selectors only (`k=v,k2=v2`), what the webhook sends. */
function selects(selector: string | undefined, o: KubeObject): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return o.metadata?.labels?.[k!] === v;
  });
}

/**
 * A kube-apiserver stand-in on 127.0.0.1 (plain HTTP): GET /version, paginated lists of custom resources, watch streams
 * of newline-delimited JSON events that resume from a resourceVersion (410 once compacted), 404 for kinds not
 * installed, and POST of events.k8s.io/v1 Events. Counts every call.
 */
export class FakeApiServer {
  readonly calls: FakeCall[] = [];
  readonly createdEvents: Array<Record<string, unknown>> = [];
  minor = '33+';
  gitVersion = 'v1.33.4-eks-1';
  /** Status code the Event endpoint answers with (201, or an error to test failures). */
  eventStatus = 201;
  /** While set, list requests wait (to look at readiness before the first sync). */
  private heldLists: Array<() => void> | undefined;
  private heldEvents: Array<() => void> | undefined;
  private rv = 1000;
  private compactedRv = 0;
  private readonly resources = new Map<string, Resource>();
  private readonly sockets = new Set<Socket>();
  private readonly listeners = new Set<() => void>();
  private server: Server | undefined;
  port = 0;

  /** Serve a CRD at `/apis/<group>/<version>/<plural>` (anything else answers 404). */
  install(apiVersion: string, plural: string, kind: string): void {
    this.resources.set(`${prefixOf(apiVersion)}/${plural}`, { apiVersion, listKind: `${kind}List`, objects: new Map(), history: [], watchers: new Map() });
  }

  /** Objects stored of one resource (e.g. the PolicyReports written), sorted by namespace/name. */
  stored(apiVersion: string, plural: string): KubeObject[] {
    return [...this.resource(apiVersion, plural).objects.values()].sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  async start(port = 0): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  /** The API server goes away: open watches are cut and new connections refused. */
  async cut(): Promise<void> {
    for (const r of this.resources.values()) r.watchers.clear();
    const closed = new Promise<void>((resolve) => this.server!.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromString(
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 'fake', cluster: { server: `http://127.0.0.1:${this.port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'fake', user: { token: 'test-token' } }],
        contexts: [{ name: 'fake', context: { cluster: 'fake', user: 'fake' } }],
        'current-context': 'fake',
      }),
    );
    return kc;
  }

  holdLists(): void {
    this.heldLists ??= [];
  }

  releaseLists(): void {
    const held = this.heldLists ?? [];
    this.heldLists = undefined;
    for (const go of held) go();
  }

  holdEvents(): void {
    this.heldEvents ??= [];
  }

  releaseEvents(): void {
    const held = this.heldEvents ?? [];
    this.heldEvents = undefined;
    for (const go of held) go();
  }

  count(kind: CallKind, plural?: string): number {
    return this.calls.filter((c) => c.kind === kind && (plural === undefined || c.path.endsWith(`/${plural}`))).length;
  }

  /** Resolves once `predicate` holds, checked now and after every request and every stream change. */
  until(predicate: () => boolean): Promise<void> {
    if (predicate()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (predicate()) {
          this.listeners.delete(check);
          resolve();
        }
      };
      this.listeners.add(check);
    });
  }

  openWatches(plural?: string): number {
    let n = 0;
    for (const [path, r] of this.resources) if (plural === undefined || path.endsWith(`/${plural}`)) n += r.watchers.size;
    return n;
  }

  add(obj: KubeObject): KubeObject {
    return this.change('ADDED', obj);
  }

  modify(obj: KubeObject): KubeObject {
    return this.change('MODIFIED', obj);
  }

  remove(obj: KubeObject): KubeObject {
    return this.change('DELETED', obj);
  }

  /** A BOOKMARK on every open watch of `plural` at the current resourceVersion. */
  bookmark(apiVersion: string, plural: string, kind: string): void {
    const r = this.resource(apiVersion, plural);
    const event = { type: 'BOOKMARK', object: { apiVersion, kind, metadata: { resourceVersion: String(this.rv) } } };
    for (const w of r.watchers.keys()) w.write(`${JSON.stringify(event)}\n`);
  }

  /**
   * etcd compaction: history before now is gone. Open watches get an ERROR event with a 410 Expired Status and end, as
   * kube-apiserver does; a watch from an older resourceVersion gets the same.
   */
  compact(): void {
    this.compactedRv = this.rv;
    for (const r of this.resources.values()) {
      r.history = [];
      for (const w of r.watchers.keys()) this.expire(w);
      r.watchers.clear();
    }
  }

  private resource(apiVersion: string, plural: string): Resource {
    const r = this.resources.get(`${prefixOf(apiVersion)}/${plural}`);
    if (!r) throw new Error(`fake: ${apiVersion}/${plural} not installed`);
    return r;
  }

  private pluralOf(obj: KubeObject): Resource {
    for (const r of this.resources.values()) if (r.apiVersion === obj.apiVersion && r.listKind === `${obj.kind}List`) return r;
    throw new Error(`fake: no resource for ${obj.apiVersion} ${obj.kind}`);
  }

  private change(type: 'ADDED' | 'MODIFIED' | 'DELETED', input: KubeObject): KubeObject {
    const r = this.pluralOf(input);
    const rv = ++this.rv;
    const object = structuredClone(input);
    object.metadata = { ...object.metadata, resourceVersion: String(rv) };
    if (type === 'DELETED') r.objects.delete(keyOf(object));
    else r.objects.set(keyOf(object), object);
    r.history.push({ rv, type, object });
    for (const [w, wants] of r.watchers) if (wants(object)) w.write(`${JSON.stringify({ type, object })}\n`);
    return object;
  }

  private expire(res: ServerResponse): void {
    const status = {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: `too old resource version: ${this.compactedRv - 1} (${this.compactedRv})`,
      reason: 'Expired',
      code: 410,
    };
    res.end(`${JSON.stringify({ type: 'ERROR', object: status })}\n`);
  }

  private notify(): void {
    for (const l of [...this.listeners]) l();
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url!, 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const call: FakeCall = { kind: 'other', method: req.method!, path: url.pathname, query, status: 200 };
    this.calls.push(call);
    const json = (status: number, body: unknown) => {
      call.status = status;
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      this.notify();
    };
    const notFound = () => json(404, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: 'the server could not find the requested resource', reason: 'NotFound', code: 404 });

    if (req.headers.authorization !== 'Bearer test-token') return json(401, { kind: 'Status', code: 401, reason: 'Unauthorized' });

    if (req.method === 'GET' && url.pathname === '/version') {
      call.kind = 'version';
      return json(200, { major: '1', minor: this.minor, gitVersion: this.gitVersion, platform: 'linux/amd64' });
    }

    const eventPath = /^\/apis\/events\.k8s\.io\/v1\/namespaces\/([^/]+)\/events$/.exec(url.pathname);
    if (req.method === 'POST' && eventPath) {
      call.kind = 'event';
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        if (this.heldEvents) {
          this.heldEvents.push(answer);
          this.notify();
        } else answer();
      });
      const answer = () => {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        if (this.eventStatus !== 201) return json(this.eventStatus, { kind: 'Status', code: this.eventStatus, reason: 'Forbidden', message: 'events.events.k8s.io is forbidden' });
        this.createdEvents.push(body);
        const meta = body.metadata as { generateName: string };
        json(201, { ...body, metadata: { ...meta, name: `${meta.generateName}abcde`, namespace: eventPath[1], resourceVersion: String(++this.rv) } });
      };
      return;
    }

    // /api/v1[/namespaces/NS]/PLURAL[/NAME] and /apis/GROUP/VERSION[/namespaces/NS]/PLURAL[/NAME]
    const m = /^\/(api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?$/.exec(url.pathname);
    const r = m ? this.resources.get(`/${m[1]}/${m[3]}`) : undefined;
    if (!r) {
      if (req.method === 'GET' && url.pathname.startsWith('/api')) call.kind = query.watch === 'true' ? 'watch' : 'list';
      return notFound();
    }
    const namespace = m![2];
    const name = m![4];
    const wanted = (o: KubeObject) => (namespace === undefined || o.metadata?.namespace === namespace) && selects(query.labelSelector, o);

    if (name !== undefined || req.method !== 'GET') return this.single(req, r, namespace, name, call, json, notFound);

    if (query.watch === 'true') {
      call.kind = 'watch';
      const from = Number(query.resourceVersion || '0');
      res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
      res.flushHeaders();
      if (from < this.compactedRv) {
        this.expire(res);
        return this.notify();
      }
      for (const h of r.history) if (h.rv > from && wanted(h.object)) res.write(`${JSON.stringify({ type: h.type, object: h.object })}\n`);
      r.watchers.set(res, wanted);
      res.on('close', () => {
        r.watchers.delete(res);
        this.notify();
      });
      return this.notify();
    }

    call.kind = 'list';
    const respond = () => {
      const all = [...r.objects.values()].filter(wanted).sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
      const limit = Number(query.limit || all.length || 1);
      const offset = Number(query.continue || '0');
      const items = all.slice(offset, offset + limit);
      const more = offset + limit < all.length;
      json(200, {
        apiVersion: r.apiVersion,
        kind: r.listKind,
        metadata: { resourceVersion: String(this.rv), ...(more ? { continue: String(offset + limit), remainingItemCount: all.length - offset - limit } : {}) },
        items,
      });
    };
    if (this.heldLists) {
      this.heldLists.push(respond);
      this.notify();
    } else respond();
  }

  /** GET, POST (create) and PUT (replace, with the resourceVersion check that makes concurrent writers see 409) of one object. */
  private single(
    req: IncomingMessage,
    r: Resource,
    namespace: string | undefined,
    name: string | undefined,
    call: FakeCall,
    json: (status: number, body: unknown) => void,
    notFound: () => void,
  ): void {
    const conflict = (message: string) => json(409, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Conflict', code: 409 });
    const key = `${namespace ?? ''}/${name ?? ''}`;
    if (req.method === 'GET') {
      call.kind = 'get';
      const o = r.objects.get(key);
      return o ? json(200, o) : notFound();
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as KubeObject;
      if (req.method === 'POST' && name === undefined) {
        call.kind = 'create';
        const k = `${namespace ?? ''}/${body.metadata?.name ?? ''}`;
        if (r.objects.has(k)) return conflict(`${r.listKind.replace(/List$/, '')} "${body.metadata?.name}" already exists`);
        return json(201, this.change('ADDED', { ...body, metadata: { ...body.metadata, namespace } }));
      }
      if (req.method === 'PUT' && name !== undefined) {
        call.kind = 'update';
        const current = r.objects.get(key);
        if (!current) return notFound();
        if (body.metadata?.resourceVersion !== current.metadata?.resourceVersion) {
          return conflict(`Operation cannot be fulfilled on ${name}: the object has been modified; please apply your changes to the latest version and try again`);
        }
        return json(200, this.change('MODIFIED', { ...body, metadata: { ...body.metadata, namespace, name } }));
      }
      json(405, { kind: 'Status', code: 405, reason: 'MethodNotAllowed' });
    });
  }
}
