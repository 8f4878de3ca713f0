/**
 * Which provider endpoint each backendRef of an AIGatewayRoute rule reaches: backendRef → AIServiceBackend (the route's
 * namespace unless given) → its `spec.backendRef`, an Envoy Gateway `Backend` → the Backend's `spec.endpoints[]`.
 * InferencePool refs stop at the pool. Pure: the objects arrive as data (`ProviderData`), read from the world by the caller.
 * See ../shared/docs/failover-facts.md §5 for why the endpoints' address types matter.
 */
import { backendPriority, describeRule, insertByPriority, routeRules, ruleMatches, type AIGatewayRoute, type AIGatewayRouteRule, type BackendRef } from './aigatewayroute.js';
import type { KubeObject } from '../kube/types.js';

/** One object by namespace and name (a cache's indexed `get`). */
export type ObjectLookup = (namespace: string, name: string) => KubeObject | undefined;

/**
 * The objects a resolution reads, the AIServiceBackends and Backends: as a lookup (the world's, so a review costs the
 * same with 10 or 10,000 of them in the cluster) or as a list (files, tests). `undefined` for a kind the world cannot
 * speak for (a route file checked alone): then a ref that names one is `unknown`, not missing.
 */
export interface ProviderData {
  aiServiceBackends: ObjectLookup | KubeObject[] | undefined;
  backends: ObjectLookup | KubeObject[] | undefined;
}

type Index = ObjectLookup | undefined;
function indexOf(objs: ObjectLookup | KubeObject[] | undefined): Index {
  if (!Array.isArray(objs)) return objs;
  const byName = new Map(objs.map((o) => [`${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`, o]));
  return (namespace, name) => byName.get(`${namespace}/${name}`);
}

export const INFERENCE_POOL_GROUP = 'inference.networking.k8s.io';
export const ENVOY_GATEWAY_GROUP = 'gateway.envoyproxy.io';

export type Endpoint =
  | { kind: 'fqdn'; host: string; port: number | undefined }
  | { kind: 'ip'; address: string; port: number | undefined }
  | { kind: 'unix'; path: string }
  /** A Kubernetes Service named directly by the AIServiceBackend (the CRD's CEL refuses it; read anyway). */
  | { kind: 'service'; namespace: string; name: string; port: number | undefined }
  | { kind: 'inference-pool'; namespace: string; name: string }
  /** A Backend of `type: DynamicResolver`: the host comes from each request. */
  | { kind: 'dynamic-resolver'; namespace: string; name: string };

/**
 * Envoy Gateway's address type of a destination (ir.DestinationAddressType): FQDN, IP (a Service's endpoints too) or
 * UDS (unix socket). A Backend whose endpoints are not all of one type is `Mixed`, which EG refuses as a backendRef
 * (gatewayapi/route.go `validateDestinationSettings`). `undefined` when unknown or not comparable (InferencePool,
 * DynamicResolver).
 */
export type AddressType = 'FQDN' | 'IP' | 'UDS';

export interface ObjectRef {
  namespace: string;
  name: string;
}

export type Resolution =
  | { state: 'resolved'; endpoints: Endpoint[] }
  /** The world holds no object of the kind at all (a route file checked alone): nothing can be said. */
  | { state: 'unknown'; missingKind: 'AIServiceBackend' | 'Backend' }
  | { state: 'unresolved'; reason: 'no-aiservicebackend' | 'no-backend' | 'no-endpoints' }
  /** The Backend mixes endpoint address types: Envoy Gateway refuses the backendRef and answers 500 for its share. */
  | { state: 'unresolved'; reason: 'mixed-address-types'; endpoints: Endpoint[] };

export interface ResolvedRef {
  /** `spec.rules[i].backendRefs[j]` */
  path: string;
  name: string;
  priority: number;
  /** 0 takes the ref out of EG's weighted split and AIGW's priority walk (EG drops the ref: route.go). */
  weight: number;
  /** The model the provider is asked for: `modelNameOverride`, else the rule's `x-ai-eg-model` match. */
  models: readonly string[];
  inferencePool?: ObjectRef;
  aiServiceBackend?: ObjectRef;
  backend?: ObjectRef;
  resolution: Resolution;
}

export interface ProviderLevel {
  priority: number;
  refs: ResolvedRef[];
  /** Every ref of the level resolved: then `endpoints` is all the level can reach. */
  complete: boolean;
  endpoints: Endpoint[];
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined);

function spec(obj: KubeObject): Record<string, unknown> {
  const s = obj.spec;
  return s && typeof s === 'object' && !Array.isArray(s) ? (s as Record<string, unknown>) : {};
}

export function endpointText(e: Endpoint): string {
  switch (e.kind) {
    case 'fqdn':
      return e.port === undefined ? e.host : `${e.host}:${e.port}`;
    case 'ip':
      return e.port === undefined ? e.address : e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;
    case 'unix':
      return `unix:${e.path}`;
    case 'service':
      return `Service ${e.namespace}/${e.name}${e.port === undefined ? '' : `:${e.port}`}`;
    case 'inference-pool':
      return `InferencePool ${e.namespace}/${e.name}`;
    case 'dynamic-resolver':
      return `the host of each request (DynamicResolver Backend ${e.namespace}/${e.name})`;
  }
}

/** Two endpoints are the same provider when they are the same host (case-insensitive) and port, socket or object. */
export function endpointKey(e: Endpoint): string {
  return e.kind === 'fqdn' ? `fqdn:${e.host.toLowerCase().replace(/\.$/, '')}:${e.port ?? ''}` : `${e.kind}:${endpointText(e)}`;
}

export function addressTypeOf(e: Endpoint): AddressType | undefined {
  if (e.kind === 'fqdn') return 'FQDN';
  if (e.kind === 'ip' || e.kind === 'service') return 'IP';
  if (e.kind === 'unix') return 'UDS';
  return undefined;
}

function readEndpoints(backend: KubeObject, ref: ObjectRef): Endpoint[] {
  const s = spec(backend);
  if (s.type === 'DynamicResolver') return [{ kind: 'dynamic-resolver', ...ref }];
  const raw = Array.isArray(s.endpoints) ? s.endpoints : [];
  const out: Endpoint[] = [];
  for (const item of raw) {
    if (!item || typeof item !== 'object') continue;
    const ep = item as Record<string, Record<string, unknown> | undefined>;
    const host = str(ep.fqdn?.hostname);
    const address = str(ep.ip?.address);
    const path = str(ep.unix?.path);
    if (host) out.push({ kind: 'fqdn', host, port: num(ep.fqdn?.port) });
    else if (address) out.push({ kind: 'ip', address, port: num(ep.ip?.port) });
    else if (path) out.push({ kind: 'unix', path });
  }
  return out;
}

/** The models a rule serves, from its `x-ai-eg-model` header matches. */
export function ruleModels(rule: AIGatewayRouteRule): string[] {
  const out: string[] = [];
  for (const m of ruleMatches(rule)) {
    const headers = (m as { headers?: unknown } | null)?.headers;
    if (!Array.isArray(headers)) continue;
    for (const h of headers as Array<Record<string, unknown> | null>) {
      if (h && str(h.name)?.toLowerCase() === 'x-ai-eg-model' && str(h.value)) out.push(h.value as string);
    }
  }
  return out.length < 2 ? out : [...new Set(out)];
}

interface Indexes {
  aiServiceBackends: Index;
  backends: Index;
}

/** The resolutions that carry no endpoints, shared by every ref that ends in them (never modified). */
const NO_AISERVICEBACKEND: Resolution = Object.freeze({ state: 'unresolved', reason: 'no-aiservicebackend' });
const AISERVICEBACKENDS_UNKNOWN: Resolution = Object.freeze({ state: 'unknown', missingKind: 'AIServiceBackend' });

/** One object shape for every ref, built whole: spreading a shared base into each result was most of the cost. */
function resolvedRef(
  ref: BackendRef,
  path: string,
  name: string,
  models: () => readonly string[],
  resolution: Resolution,
  inferencePool: ObjectRef | undefined,
  aiServiceBackend: ObjectRef | undefined,
  backend: ObjectRef | undefined,
): ResolvedRef {
  return {
    path,
    name,
    priority: backendPriority(ref),
    weight: typeof ref.weight === 'number' ? ref.weight : 1,
    models: str(ref.modelNameOverride) ? [ref.modelNameOverride!] : models(),
    inferencePool,
    aiServiceBackend,
    backend,
    resolution,
  };
}

function resolveRef(ref: BackendRef, routeNamespace: string, path: string, models: () => readonly string[], data: Indexes): ResolvedRef {
  const name = str(ref.name) ?? '?';
  const namespace = str(ref.namespace) ?? routeNamespace;
  if (str(ref.kind) === 'InferencePool' || str(ref.group) === INFERENCE_POOL_GROUP) {
    const pool = { namespace, name };
    return resolvedRef(ref, path, name, models, { state: 'resolved', endpoints: [{ kind: 'inference-pool', ...pool }] }, pool, undefined, undefined);
  }
  const asbRef = { namespace, name };
  const asb = data.aiServiceBackends?.(namespace, name);
  // A missing AIServiceBackend (every ref of a route checked alone) shares one resolution object.
  if (!asb) return resolvedRef(ref, path, name, models, data.aiServiceBackends ? NO_AISERVICEBACKEND : AISERVICEBACKENDS_UNKNOWN, undefined, asbRef, undefined);
  const target = spec(asb).backendRef as Record<string, unknown> | undefined;
  const targetName = str(target?.name) ?? '?';
  const targetNs = str(target?.namespace) ?? namespace;
  const group = str(target?.group) ?? '';
  const kind = str(target?.kind) ?? 'Service';
  if (!(group === ENVOY_GATEWAY_GROUP && kind === 'Backend')) {
    const endpoints: Endpoint[] = group === '' && kind === 'Service' ? [{ kind: 'service', namespace: targetNs, name: targetName, port: num(target?.port) }] : [];
    return resolvedRef(ref, path, name, models, endpoints.length ? { state: 'resolved', endpoints } : { state: 'unresolved', reason: 'no-backend' }, undefined, asbRef, undefined);
  }
  const backendRef = { namespace: targetNs, name: targetName };
  const backend = data.backends?.(targetNs, targetName);
  if (!backend) {
    const resolution: Resolution = data.backends ? { state: 'unresolved', reason: 'no-backend' } : { state: 'unknown', missingKind: 'Backend' };
    return resolvedRef(ref, path, name, models, resolution, undefined, asbRef, backendRef);
  }
  const endpoints = readEndpoints(backend, backendRef);
  const types = new Set(endpoints.map(addressTypeOf));
  const resolution: Resolution = !endpoints.length
    ? { state: 'unresolved', reason: 'no-endpoints' }
    : types.size > 1
      ? { state: 'unresolved', reason: 'mixed-address-types', endpoints }
      : { state: 'resolved', endpoints };
  return resolvedRef(ref, path, name, models, resolution, undefined, asbRef, backendRef);
}

const indexes = (data: ProviderData): Indexes => ({ aiServiceBackends: indexOf(data.aiServiceBackends), backends: indexOf(data.backends) });

export function resolveRule(route: AIGatewayRoute, rule: AIGatewayRouteRule, index: number, data: ProviderData): ResolvedRef[] {
  return resolveWith(route, rule, index, indexes(data));
}

function resolveWith(route: AIGatewayRoute, rule: AIGatewayRouteRule, index: number, data: Indexes): ResolvedRef[] {
  const ns = route.metadata?.namespace ?? '';
  const refs = Array.isArray(rule.backendRefs) ? rule.backendRefs : [];
  const out: ResolvedRef[] = [];
  // The rule's models, read once and shared by all its refs: frozen, and read-only in the type, so no caller can change
  // another ref's list (a copy per ref was a tenth of resolving a 16-backend rule).
  let models: readonly string[] | undefined;
  const modelsOfRule = () => (models ??= Object.freeze(ruleModels(rule)));
  refs.forEach((ref, j) => {
    if (ref && typeof ref === 'object') out.push(resolveRef(ref, ns, `spec.rules[${index}].backendRefs[${j}]`, modelsOfRule, data));
  });
  return out;
}

export interface RuleProviders {
  index: number;
  /** `spec.rules[0] ("chat")` */
  label: string;
  refs: ResolvedRef[];
  levels: ProviderLevel[];
}

/** Every rule of a route resolved to its providers. */
export function routeProviders(route: KubeObject, data: ProviderData): RuleProviders[] {
  const r = route as AIGatewayRoute;
  const idx = indexes(data);
  return routeRules(r).map((rule, index) => {
    const refs = resolveWith(r, rule, index, idx);
    return { index, label: describeRule(rule, index), refs, levels: providerLevels(refs) };
  });
}

/** The AIServiceBackends a route names that do not exist: the AI Gateway controller then fails the whole route. */
export function missingServiceBackends(rules: RuleProviders[]): ResolvedRef[] {
  return rules.flatMap((r) => r.refs.filter((x) => x.resolution.state === 'unresolved' && x.resolution.reason === 'no-aiservicebackend'));
}

/**
 * The refs grouped by priority, lowest first, with the endpoints each level reaches. Weight-0 refs are dropped (Envoy
 * Gateway skips them), so a level made only of them does not exist.
 */
export function providerLevels(refs: ResolvedRef[]): ProviderLevel[] {
  const levels: ProviderLevel[] = [];
  const byPriority = new Map<number, ProviderLevel>();
  for (const r of refs) {
    if (r.weight === 0) continue;
    const level = byPriority.get(r.priority);
    // Appended in place: copying the level for every ref was quadratic in a level's size.
    if (level) level.refs.push(r);
    else {
      const created: ProviderLevel = { priority: r.priority, refs: [r], complete: true, endpoints: NO_ENDPOINTS };
      byPriority.set(r.priority, created);
      insertByPriority(levels, created);
    }
  }
  for (const level of levels) {
    level.complete = level.refs.every(isResolved);
    // Most refs resolve to nothing in a review without the AIServiceBackends: no map of endpoints then.
    if (!level.refs.some(isResolved)) continue;
    const endpoints = new Map<string, Endpoint>();
    for (const r of level.refs) if (r.resolution.state === 'resolved') for (const e of r.resolution.endpoints) endpoints.set(endpointKey(e), e);
    level.endpoints = [...endpoints.values()];
  }
  return levels;
}

const isResolved = (r: ResolvedRef): boolean => r.resolution.state === 'resolved';
/** The endpoints of a level none of whose refs resolved: shared, and frozen so that a change would throw. */
const NO_ENDPOINTS: Endpoint[] = Object.freeze([]) as unknown as Endpoint[];

/** Every endpoint of `level` is one `previous` already reaches: falling over there meets the same provider. */
export function repeatsProvider(level: ProviderLevel, previous: ProviderLevel): boolean {
  if (!level.complete || !previous.complete || level.endpoints.length === 0) return false;
  const before = new Set(previous.endpoints.map(endpointKey));
  return level.endpoints.every((e) => before.has(endpointKey(e)));
}

/** The address type of a ref's endpoints, when they resolved to one. */
export function refAddressType(r: ResolvedRef): AddressType | undefined {
  if (r.resolution.state !== 'resolved') return undefined;
  const types = new Set(r.resolution.endpoints.map(addressTypeOf));
  return types.size === 1 ? [...types][0] : undefined;
}

/**
 * Why Envoy Gateway builds one cluster per backend for a rule's backends (ir/xds.go `NeedsClusterPerSetting`), zone
 * awareness aside: several address types, or a ref with weight that EG turns into a 500 (`invalid` or no endpoints).
 * A missing AIServiceBackend is not here: the controller then builds no HTTPRoute at all.
 */
export type BackendSplit = { kind: 'address-types'; types: AddressType[] } | { kind: 'invalid-backends'; refs: string[] };

export function backendSplit(refs: ResolvedRef[]): BackendSplit | undefined {
  // One backend (most rules) is never split.
  if (refs.length < 2) return refs.length === 1 && refs[0]!.weight !== 0 ? invalidBackends(refs) : undefined;
  const live = refs.filter((r) => r.weight !== 0);
  const types = [...new Set(live.map(refAddressType).filter((t): t is AddressType => t !== undefined))];
  if (types.length > 1) return { kind: 'address-types', types };
  return invalidBackends(live);
}

/** Refs with weight that Envoy Gateway turns into a 500 (`live`: the refs whose weight is not 0). */
function invalidBackends(live: ResolvedRef[]): BackendSplit | undefined {
  const invalid = live.filter((r) => r.resolution.state === 'unresolved' && r.resolution.reason !== 'no-aiservicebackend').map((r) => r.name);
  return invalid.length ? { kind: 'invalid-backends', refs: invalid } : undefined;
}
