/**
 * Envoy Gateway xDS resource names of HTTPRoute rules (SPEC §3), and where users write them in an EnvoyPatchPolicy.
 *
 * Envoy Gateway names what it generates for rule i of HTTPRoute ns/name:
 *   route                 httproute/<ns>/<name>/rule/<i>/match/<m>/<host>   (m counts the rule's matches from 0; a rule
 *                                                                           without matches gets the CRD default `PathPrefix /`,
 *                                                                           so match/0; host with `.` written `_`, `*` for any)
 *   cluster               httproute/<ns>/<name>/rule/<i>
 *   per-backend cluster   httproute/<ns>/<name>/rule/<i>/backend/<j>       (only when the rule is split into one cluster
 *                                                                           per backend; otherwise the rule has one cluster)
 * Envoy AI Gateway's controller generates HTTPRoute ns/name from AIGatewayRoute ns/name, rule i from rule i, and one
 * catch-all rule `route-not-found` at index len(rules).
 */
import { routeRules, ruleBackendRefs, ruleMatches, type AIGatewayRoute, type AIGatewayRouteRule } from './aigatewayroute.js';
import type { KubeObject } from '../kube/types.js';

export const XDS_NAME_PREFIX = 'httproute/';

interface XdsNameBase {
  namespace: string;
  name: string;
  ruleIndex: number;
}
export interface XdsRouteName extends XdsNameBase {
  kind: 'route';
  matchIndex: number;
  /** The hostname with `.` written `_`, or `*`. */
  host: string;
}
export interface XdsRuleClusterName extends XdsNameBase {
  kind: 'rule-cluster';
}
export interface XdsBackendClusterName extends XdsNameBase {
  kind: 'backend-cluster';
  backendIndex: number;
}
export type XdsName = XdsRouteName | XdsRuleClusterName | XdsBackendClusterName;

export type ParsedXdsName = { ok: true; value: XdsName } | { ok: false; error: string };

export const XDS_NAME_SHAPES =
  'httproute/<namespace>/<name>/rule/<i> (cluster), httproute/<namespace>/<name>/rule/<i>/backend/<j> (per-backend cluster) ' +
  'or httproute/<namespace>/<name>/rule/<i>/match/<m>/<host> (route)';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Go's strconv.Itoa never writes a sign or a leading zero, so `rule/01` can never match a generated name.
const INDEX = /^(0|[1-9][0-9]{0,8})$/;
const HOST = /^[a-z0-9_*-]+$/;

/** `api.example.com` → `api_example_com`; no hostname → `*` (how Envoy Gateway writes the host in a route name). */
export function xdsHost(hostname: string | undefined): string {
  return hostname ? hostname.replaceAll('.', '_') : '*';
}

export function formatXdsName(n: XdsName): string {
  const rule = `${XDS_NAME_PREFIX}${n.namespace}/${n.name}/rule/${n.ruleIndex}`;
  switch (n.kind) {
    case 'rule-cluster':
      return rule;
    case 'backend-cluster':
      return `${rule}/backend/${n.backendIndex}`;
    case 'route':
      return `${rule}/match/${n.matchIndex}/${n.host}`;
  }
}

/** Parses one name that starts with `httproute/`; the error says which part is wrong and what Envoy Gateway writes there. */
export function parseXdsName(text: string): ParsedXdsName {
  const fail = (why: string): ParsedXdsName => ({ ok: false, error: `${why}; Envoy Gateway writes ${XDS_NAME_SHAPES}` });
  if (!text.startsWith(XDS_NAME_PREFIX)) return fail(`it does not start with "${XDS_NAME_PREFIX}"`);
  const parts = text.split('/');
  const [, namespace = '', name = '', ruleWord, rule] = parts;
  if (!DNS_LABEL.test(namespace)) return fail(`"${namespace}" is not a namespace name`);
  if (!DNS_SUBDOMAIN.test(name) || name.length > 253) return fail(`"${name}" is not a route name`);
  if (ruleWord !== 'rule' || rule === undefined) return fail(`"rule/<index>" must follow the route name`);
  if (!INDEX.test(rule)) {
    const byName = /^[0-9-]/.test(rule) ? '' : ' (xDS names carry the rule index, never the rule name)';
    return fail(`the rule index "${rule}" is not a non-negative integer without leading zeros${byName}`);
  }
  const base = { namespace, name, ruleIndex: Number(rule) };
  if (parts.length === 5) return { ok: true, value: { kind: 'rule-cluster', ...base } };
  const [, , , , , segment, index, host] = parts;
  if (segment === 'backend' && parts.length === 7) {
    if (!INDEX.test(index!)) return fail(`the backend index "${index}" is not a non-negative integer without leading zeros`);
    return { ok: true, value: { kind: 'backend-cluster', ...base, backendIndex: Number(index) } };
  }
  if (segment === 'match' && parts.length === 8) {
    if (index === '-1') {
      return fail(`the match index is never -1: a rule without matches gets the CRD default match (path prefix /), so its route is match/0`);
    }
    if (!INDEX.test(index!)) return fail(`the match index "${index}" is not a non-negative integer without leading zeros`);
    if (host!.includes('.')) return fail(`the host "${host}" contains "."; Envoy Gateway writes each "." of a hostname as "_" ("${xdsHost(host)}")`);
    if (!HOST.test(host!)) return fail(`the host "${host}" is not a hostname with "." written "_", or "*"`);
    return { ok: true, value: { kind: 'route', ...base, matchIndex: Number(index), host: host! } };
  }
  return fail(`"${parts.slice(5).join('/')}" after the rule index is not "backend/<j>" or "match/<m>/<host>"`);
}

/** One xDS name found in an EnvoyPatchPolicy. */
export interface XdsNameReference {
  /** The name exactly as written. */
  text: string;
  /** Where it was found, e.g. `spec.jsonPatches[0].operation.jsonPath`. */
  path: string;
  /** Index into spec.jsonPatches. */
  patchIndex: number;
  parsed: ParsedXdsName;
}

// A name starts at `httproute/` not preceded by a name character, and runs to a quote, space, bracket or operator.
// A regex filter (`=~ /httproute\/…/`) escapes its slashes and is therefore not mistaken for a name.
const NAME_IN_TEXT = /(?<![A-Za-z0-9_.\-/])httproute\/[^\s'"`\\\])(,;|&=<>!?]*/g;

export function namesInText(text: string): string[] {
  const names: string[] = [];
  // Most strings name nothing: no regex run for them.
  if (!text.includes(XDS_NAME_PREFIX)) return names;
  NAME_IN_TEXT.lastIndex = 0;
  for (let m = NAME_IN_TEXT.exec(text); m !== null; m = NAME_IN_TEXT.exec(text)) names.push(m[0]);
  return names;
}

/**
 * Every xDS name of an HTTPRoute rule written in an EnvoyPatchPolicy: `spec.jsonPatches[].name`, names inside
 * `operation.jsonPath` filters (`..routes[?(@.name=='httproute/…')]`), JSON Pointer segments of `operation.path` and
 * `operation.from`, and strings at any depth of `operation.value`. Names of other resources (listeners, route
 * configurations `<ns>/<gateway>/<listener>`, secrets) are not ours and are skipped.
 *
 * Plain loops, not a closure per patch and per name: those were compiled late and twice in a served run (tens of ms
 * of V8's compiler time each), as only EnvoyPatchPolicies reach them.
 */
export function findXdsNames(policy: KubeObject | null | undefined): XdsNameReference[] {
  const out: XdsNameReference[] = [];
  const patches = (policy?.spec as { jsonPatches?: unknown } | undefined)?.jsonPatches;
  if (!Array.isArray(patches)) return out;
  for (let patchIndex = 0; patchIndex < patches.length; patchIndex++) {
    const patch: unknown = patches[patchIndex];
    if (!isRecord(patch)) continue;
    const at = `spec.jsonPatches[${patchIndex}]`;
    if (typeof patch.name === 'string' && patch.name.startsWith(XDS_NAME_PREFIX)) addName(out, patch.name, `${at}.name`, patchIndex);
    const op = patch.operation;
    if (!isRecord(op)) continue;
    if (typeof op.jsonPath === 'string') {
      const names = namesInText(op.jsonPath);
      for (let k = 0; k < names.length; k++) addName(out, names[k]!, `${at}.operation.jsonPath`, patchIndex);
    }
    for (const field of POINTER_FIELDS) {
      const pointer = op[field];
      if (typeof pointer !== 'string') continue;
      const segments = pointer.split('/');
      for (let k = 1; k < segments.length; k++) {
        const decoded = segments[k]!.replaceAll('~1', '/').replaceAll('~0', '~');
        if (decoded.startsWith(XDS_NAME_PREFIX)) addName(out, decoded, `${at}.operation.${field}`, patchIndex);
      }
    }
    if ('value' in op) namesInValue(out, op.value, `${at}.operation.value`, patchIndex);
  }
  return out;
}

const POINTER_FIELDS = ['path', 'from'] as const;

function addName(out: XdsNameReference[], text: string, path: string, patchIndex: number): void {
  out.push({ text, path, patchIndex, parsed: parseXdsName(text) });
}

/** The names in every string of a patch value, at any depth, each with its path. */
function namesInValue(out: XdsNameReference[], value: unknown, path: string, patchIndex: number): void {
  if (typeof value === 'string') {
    const names = namesInText(value);
    for (let k = 0; k < names.length; k++) addName(out, names[k]!, path, patchIndex);
  } else if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) namesInValue(out, value[i], `${path}[${i}]`, patchIndex);
  } else if (isRecord(value)) {
    for (const k of Object.keys(value)) namesInValue(out, value[k], PLAIN_KEY.test(k) ? `${path}.${k}` : `${path}[${JSON.stringify(k)}]`, patchIndex);
  }
}

const PLAIN_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export type MissReason =
  | 'unparseable'
  | 'route-not-found'
  | 'rule-index-out-of-range'
  | 'catch-all-rule'
  | 'backend-index-out-of-range'
  | 'no-backend-clusters'
  | 'match-index-out-of-range'
  | 'host-not-generated';
export const MISS_REASONS: readonly MissReason[] = [
  'unparseable',
  'route-not-found',
  'rule-index-out-of-range',
  'catch-all-rule',
  'backend-index-out-of-range',
  'no-backend-clusters',
  'match-index-out-of-range',
  'host-not-generated',
];

export type Resolution =
  | { ok: true; rule: AIGatewayRouteRule; ruleCount: number }
  | { ok: false; reason: Exclude<MissReason, 'unparseable'>; ruleCount: number };

/** What is known beyond the route itself. */
export interface XdsNameContext {
  /**
   * Whether Envoy Gateway builds one cluster per backend for rule i (src/model/fallover.ts `split`); undefined when
   * the world cannot tell (its backends are not known).
   */
  clusterPerBackend?: (ruleIndex: number) => boolean | undefined;
  /** Hostnames of the Gateway listeners the route attaches to (undefined: a listener without one), when known. */
  listenerHostnames?: Array<string | undefined>;
}

/** Generated matches of a rule: its own, or the one CRD-default `PathPrefix /` match. */
export function generatedMatchCountOf(rule: AIGatewayRouteRule): number {
  return Math.max(1, ruleMatches(rule).length);
}

/** `spec.hostnames` of the route, as written. */
export function routeHostnames(route: AIGatewayRoute): string[] {
  const h = (route.spec as { hostnames?: unknown } | undefined)?.hostnames;
  return Array.isArray(h) ? h.filter((x): x is string => typeof x === 'string' && x !== '') : [];
}

/** Gateway API hostname matching: equal, or `*.x` covering any name under `x` (one or more labels). */
function covers(wildcard: string, name: string): boolean {
  return wildcard.startsWith('*.') && name.endsWith(wildcard.slice(1)) && name.length > wildcard.length - 1;
}

/**
 * The hosts Envoy Gateway writes in a route's names (`computeHosts`): per listener, the route hostnames that the
 * listener hostname admits (the more specific one of each matching pair), or the listener hostname when the route
 * sets none; `*` when neither sets one. Undefined when nothing is known (no listener and no route hostnames).
 */
export function generatedHosts(routeHostnames: string[], listenerHostnames: Array<string | undefined> | undefined): Set<string> | undefined {
  if (!listenerHostnames || listenerHostnames.length === 0) return undefined;
  const out = new Set<string>();
  for (const l of listenerHostnames) {
    if (routeHostnames.length === 0) out.add(xdsHost(l));
    for (const h of routeHostnames) {
      if (!l || h === l || covers(l, h)) out.add(xdsHost(h));
      else if (covers(h, l)) out.add(xdsHost(l));
    }
  }
  return out;
}

/**
 * Whether `host` (xDS form) can be a host of the route's names. With the listener hostnames of its Gateways known,
 * exactly the generated hosts; else with `spec.hostnames` set, one of them or a name a wildcard among them covers
 * (never `*`); else anything (the listener decides).
 */
export function hostCanBeGenerated(host: string, hostnames: string[], listenerHostnames?: Array<string | undefined>): boolean {
  const known = generatedHosts(hostnames, listenerHostnames);
  if (known) return known.has(host);
  if (hostnames.length === 0) return true;
  return hostnames.some((h) => {
    const x = xdsHost(h);
    return x === host || (h.startsWith('*.') && host.endsWith(x.slice(1)) && host.length > x.length - 1);
  });
}

/** What a parsed name points at in AIGatewayRoute `route` (null: no such route). */
export function resolveXdsName(name: XdsName, route: AIGatewayRoute | null | undefined, context: XdsNameContext = {}): Resolution {
  if (!route) return { ok: false, reason: 'route-not-found', ruleCount: 0 };
  const rules = routeRules(route);
  const ruleCount = rules.length;
  if (name.ruleIndex > ruleCount) return { ok: false, reason: 'rule-index-out-of-range', ruleCount };
  if (name.ruleIndex === ruleCount) return { ok: false, reason: 'catch-all-rule', ruleCount };
  const rule = rules[name.ruleIndex]!;
  if (name.kind === 'backend-cluster') {
    if (name.backendIndex >= ruleBackendRefs(rule).length) return { ok: false, reason: 'backend-index-out-of-range', ruleCount };
    if (context.clusterPerBackend?.(name.ruleIndex) === false) return { ok: false, reason: 'no-backend-clusters', ruleCount };
  }
  if (name.kind === 'route') {
    if (name.matchIndex >= generatedMatchCountOf(rule)) return { ok: false, reason: 'match-index-out-of-range', ruleCount };
    if (!hostCanBeGenerated(name.host, routeHostnames(route), context.listenerHostnames)) return { ok: false, reason: 'host-not-generated', ruleCount };
  }
  return { ok: true, rule, ruleCount };
}

/** `0 ("chat"), 1 ("embeddings")` — the rules a message offers instead. */
export function listRules(route: AIGatewayRoute | null | undefined): string {
  const rules = routeRules(route);
  if (rules.length === 0) return 'none';
  return rules.map((r, i) => (typeof r.name === 'string' && r.name ? `${i} ("${r.name}")` : `${i} (unnamed)`)).join(', ');
}
