import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { KubeConfig } from '@kubernetes/client-node';
import { apply_patch } from 'jsonpatch';
import type { JsonPatchOperation, KubeObject } from '../../src/kube/types.js';

export type CallKind = 'list' | 'watch' | 'version' | 'event' | 'get' | 'create' | 'update' | 'patch' | 'other';
export interface FakeCall {
  kind: CallKind;
  method: string;
  path: string;
  query: Record<string, string>;
  status: number;
}

interface Resource {
  apiVersion: string;
  /** Custom resources refuse an update without metadata.resourceVersion (AllowUnconditionalUpdate is false); core kinds take it. */
  custom: boolean;
  listKind: string;
  objects: Map<string, KubeObject>;
  /** Every change, for watches that resume from an older resourceVersion. */
  history: Array<{ rv: number; type: string; object: KubeObject }>;
  /** Each open watch with what it asked for (namespace, label selector). */
  watchers: Map<ServerResponse, (o: KubeObject) => boolean>;
}

/** IsDNS1123Subdomain: at most 253 characters of lowercase alphanumerics, '-' and '.', alphanumeric at both ends. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const SUBDOMAIN_MESSAGE =
  "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

/** The reasons kube-apiserver gives for a name that is not a DNS-1123 subdomain (`prefix`: a generateName, whose trailing '-' is allowed). */
export function subdomainProblems(name: string, prefix = false): string[] {
  const checked = prefix && name.endsWith('-') ? `${name.slice(0, -1)}a` : name;
  const problems: string[] = [];
  if (checked.length > 253) problems.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(checked)) problems.push(SUBDOMAIN_MESSAGE);
  return problems;
}

/** One field error as kube-apiserver words it (`field.Invalid` / `field.Required`). */
export interface FieldError {
  field: string;
  message: string;
}
const invalid = (field: string, value: unknown, detail: string): FieldError => ({ field, message: `${field}: Invalid value: ${JSON.stringify(value)}: ${detail}` });
const required = (field: string, detail = ''): FieldError => ({ field, message: `${field}: Required value${detail ? `: ${detail}` : ''}` });

/** ValidateObjectMeta on create: name or generateName, both DNS-1123 subdomains. */
export function objectMetaProblems(meta: { name?: string; generateName?: string } | undefined): FieldError[] {
  const errors: FieldError[] = [];
  if (meta?.generateName) for (const p of subdomainProblems(meta.generateName, true)) errors.push(invalid('metadata.generateName', meta.generateName, p));
  if (!meta?.name) {
    if (!meta?.generateName) errors.push(required('metadata.name', 'name or generateName is required'));
  } else for (const p of subdomainProblems(meta.name)) errors.push(invalid('metadata.name', meta.name, p));
  return errors;
}

/** events.k8s.io/v1 ValidateEventCreate (pkg/apis/core/validation/events.go), for an Event with eventTime. */
export function eventProblems(event: Record<string, unknown>, namespace: string): FieldError[] {
  const errors = objectMetaProblems(event.metadata as { name?: string; generateName?: string });
  const text = (k: string) => (typeof event[k] === 'string' ? (event[k] as string) : '');
  const regarding = (event.regarding ?? {}) as { namespace?: string };
  if (!event.eventTime) errors.push(required('eventTime'));
  if (event.type !== 'Normal' && event.type !== 'Warning') errors.push(invalid('type', '', `has invalid value: ${String(event.type ?? '')}`));
  if (!regarding.namespace && namespace !== 'default' && namespace !== 'kube-system') errors.push(invalid('involvedObject.namespace', '', 'does not match event.namespace'));
  const controller = text('reportingController');
  if (!controller) errors.push(required('reportingController'));
  else if (!/^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(controller)) {
    errors.push(invalid('reportingController', controller, 'must be a qualified name'));
  }
  for (const [k, limit] of [['reportingInstance', 128], ['action', 128], ['reason', 128]] as const) {
    if (!text(k)) errors.push(required(k));
    else if (text(k).length > limit) errors.push(invalid(k, '', `can have at most ${limit} characters`));
  }
  if (text('note').length > 1024) errors.push(invalid('message', '', 'can have at most 1024 characters'));
  return errors;
}

const keyOf = (o: KubeObject) => `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
/** The 5 characters the API server appends to a generateName (its alphabet has no vowels and no look-alikes). */
function generatedSuffix(): string {
  const alphabet = 'bcdfghjklmnpqrstvwxz2456789';
  return Array.from({ length: 5 }, () => alphabet[Math.floor(Math.random() * alphabet.length)]).join('');
}

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
  /** Writes refused (4xx/5xx from validation), with the Status message, to assert on. */
  readonly refused: Array<{ path: string; status: number; message: string }> = [];
  /**
   * Namespaces that exist: a create in any other answers 404 as the NamespaceLifecycle admission plugin does. Objects
   * seeded with add() create theirs; `createNamespace` adds more.
   */
  readonly namespaces = new Set<string>(['default', 'kube-system']);
  private eventNames = new Set<string>();
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
    this.resources.set(`${prefixOf(apiVersion)}/${plural}`, { apiVersion, custom: apiVersion.includes('/'), listKind: `${kind}List`, objects: new Map(), history: [], watchers: new Map() });
  }

  createNamespace(name: string): void {
    this.namespaces.add(name);
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
    if (object.metadata.namespace) this.namespaces.add(object.metadata.namespace);
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

  /** What the API server refuses before validation: a namespace that does not exist (NamespaceLifecycle). */
  private admitCreate(namespace: string | undefined): { status: number; reason: string; message: string } | undefined {
    if (namespace !== undefined && !this.namespaces.has(namespace)) return { status: 404, reason: 'NotFound', message: `namespaces "${namespace}" not found` };
    return undefined;
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
    const refuse = (status: number, reason: string, message: string, details?: unknown) => {
      this.refused.push({ path: url.pathname, status, message });
      json(status, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code: status });
    };

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
        const meta = { ...(body.metadata as { name?: string; generateName?: string; namespace?: string }) };
        const namespace = eventPath[1]!;
        const early = this.admitCreate(namespace);
        if (early) return refuse(early.status, early.reason, early.message);
        if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${generatedSuffix()}`;
        const errors = eventProblems({ ...body, metadata: meta }, namespace);
        if (errors.length > 0) return refuse(422, 'Invalid', `Event "${meta.name ?? ''}" is invalid: ${errors.map((e) => e.message).join(', ')}`);
        if (this.eventNames.has(`${namespace}/${meta.name}`)) return refuse(409, 'AlreadyExists', `events.events.k8s.io "${meta.name}" already exists`);
        this.eventNames.add(`${namespace}/${meta.name}`);
        this.createdEvents.push(body);
        json(201, { ...body, metadata: { ...meta, namespace, resourceVersion: String(++this.rv) } });
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

    if (name !== undefined || req.method !== 'GET') return this.single(req, r, namespace, name, call, json, notFound, refuse);

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
    refuse: (status: number, reason: string, message: string) => void,
  ): void {
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
      const kind = r.listKind.replace(/List$/, '');
      const resource = `${r.listKind.replace(/List$/, '').toLowerCase()}s`;
      if (body.metadata?.namespace !== undefined && namespace !== undefined && body.metadata.namespace !== namespace) {
        return refuse(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
      }
      if (req.method === 'POST' && name === undefined) {
        call.kind = 'create';
        const meta = { ...body.metadata };
        const early = this.admitCreate(namespace);
        if (early) return refuse(early.status, early.reason, early.message);
        if (!meta.name && meta.generateName) meta.name = `${meta.generateName}${generatedSuffix()}`;
        const errors = objectMetaProblems(meta);
        if (errors.length > 0) return refuse(422, 'Invalid', `${kind} "${meta.name ?? ''}" is invalid: ${errors.map((e) => e.message).join(', ')}`);
        if (meta.resourceVersion) return refuse(500, 'InternalError', 'resourceVersion should not be set on objects to be created');
        const k = `${namespace ?? ''}/${meta.name}`;
        if (r.objects.has(k)) return refuse(409, 'AlreadyExists', `${resource} "${meta.name}" already exists`);
        return json(201, this.change('ADDED', { ...body, metadata: { ...meta, ...(namespace ? { namespace } : {}) } }));
      }
      if (req.method === 'PUT' && name !== undefined) {
        call.kind = 'update';
        if (body.metadata?.name !== name) return refuse(400, 'BadRequest', `the name of the object (${body.metadata?.name ?? ''}) does not match the name on the URL (${name})`);
        const current = r.objects.get(key);
        if (!current) return notFound();
        if (!body.metadata?.resourceVersion) {
          if (r.custom) return refuse(422, 'Invalid', `${kind} "${name}" is invalid: metadata.resourceVersion: Invalid value: 0x0: must be specified for an update`);
        } else if (body.metadata.resourceVersion !== current.metadata?.resourceVersion) {
          return refuse(409, 'Conflict', `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified; please apply your changes to the latest version and try again`);
        }
        return json(200, this.change('MODIFIED', { ...body, metadata: { ...body.metadata, namespace, name } }));
      }
      if (req.method === 'PATCH' && name !== undefined) {
        call.kind = 'patch';
        const current = r.objects.get(key);
        if (!current) return notFound();
        if (req.headers['content-type'] !== 'application/json-patch+json') return json(415, { kind: 'Status', code: 415, reason: 'UnsupportedMediaType' });
        const patched = apply_patch(structuredClone(current), body as unknown as JsonPatchOperation[]) as KubeObject;
        return json(200, this.change('MODIFIED', { ...patched, metadata: { ...patched.metadata, namespace, name } }));
      }
      json(405, { kind: 'Status', code: 405, reason: 'MethodNotAllowed' });
    });
  }
}
