import { definePolicy } from '../src/review/policy.js';
import { ENVOYPATCHPOLICY, WORLD_KEYS } from '../src/model/kinds.js';
import {
  findXdsNames,
  generatedMatchCountOf,
  listRules,
  resolveXdsName,
  generatedHosts,
  routeHostnames,
  xdsHost,
  type XdsNameContext,
  type XdsNameReference,
} from '../src/model/xds-names.js';
import { routeRules, ruleBackendRefs, ruleMatches, type AIGatewayRoute } from '../src/model/aigatewayroute.js';
import { routeFallover } from '../src/model/fallover.js';
import { refAddressType, routeProviders } from '../src/model/providers.js';
import type { KubeObject } from '../src/kube/types.js';
import type { World } from '../src/kube/types.js';
import { providerData } from './provider-shared.js';
import { btpsWith } from './fallover-shared.js';
import { listenerHostnames } from '../src/model/parent-refs.js';
import type { EventDraft, FindingDraft, Mode, Observation } from '../src/kube/types.js';
import {
  indexRange,
  listBackends,
  lookupRoute,
  looseRouteKey,
  missObservation,
  plural,
  quoteName,
  refOf,
  ruleLabel,
  targetOf,
  warningEvent,
  type Miss,
} from './route-lookup.js';

export interface RouteRuleIndexParams {
  /**
   * The most severe mode a `route-not-found` miss takes. An EnvoyPatchPolicy applied before its AIGatewayRoute
   * (`kubectl apply -f dir/` in file order, a GitOps sync) is normal and heals itself, so by default it only warns.
   */
  routeNotFoundMode: Mode;
}

export const MISS_EVENT_REASON = 'RouteLookupMiss';

export default definePolicy<RouteRuleIndexParams>({
  id: 'route-rule-index',
  description:
    'An EnvoyPatchPolicy names an AIGatewayRoute rule (httproute/<ns>/<name>/rule/<i>…) that does not exist: Envoy Gateway finds nothing by that name and the patch silently does not apply.',
  endpoint: 'validate',
  match: { kinds: [ENVOYPATCHPOLICY], operations: ['CREATE', 'UPDATE'] },
  defaultMode: 'deny',
  onError: 'allow-with-warning',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: { routeNotFoundMode: { enum: ['deny', 'warn', 'audit'] } },
  },
  defaultParams: { routeNotFoundMode: 'warn' },
  vap: { missing: 'cross-object', why: "looks up the AIGatewayRoute an xDS name points at; parsing the names in jsonPath filters and values is beyond CEL's cost limit too" },
  evaluate({ object, world, params }) {
    if (!object) return {};
    const referencing = refOf({ ...object, apiVersion: object.apiVersion ?? 'gateway.envoyproxy.io/v1alpha1', kind: object.kind ?? 'EnvoyPatchPolicy' });
    const findings: FindingDraft[] = [];
    const events: EventDraft[] = [];
    const observations: Observation[] = [];
    // Made once per review, not once per reference; the Gateways are listed only when there is a reference to judge.
    let gateways: KubeObject[] | undefined;
    const gatewaysOnce = () => (gateways ??= world.list(GATEWAY_KEY));
    const routeOf = (ns: string, name: string) => lookupRoute(world, ns, name) ?? null;
    const contextOf = (route: AIGatewayRoute): XdsNameContext => ({ clusterPerBackend: clusterPerBackendOf(world, route), listenerHostnames: listenerHostnames(route as KubeObject, gatewaysOnce()) });
    for (const ref of findXdsNames(object)) {
      const [namespace, name] = nsName(ref);
      const judged = judge(ref, referencing, routeOf, world.get(HTTPROUTE_KEY, namespace, name) !== undefined, contextOf, gatewaysOnce());
      if (!judged) continue;
      const { miss, message, summary } = judged;
      findings.push(
        miss.reason === 'route-not-found'
          ? { path: ref.path, message, atMost: params.routeNotFoundMode }
          : // A patch on the catch-all rule applies (to the 404); it is usually an index mistake, so it warns.
            miss.reason === 'catch-all-rule'
            ? { path: ref.path, message, atMost: 'warn' }
            : { path: ref.path, message },
      );
      observations.push(missObservation(miss));
      events.push(warningEvent(MISS_EVENT_REASON, `${miss.reason}: ${ref.path} ${quoteName(ref.text)}: ${summary}`));
    }
    return { findings, events, observations };
  },
});

/**
 * Whether rule i of the route gets one cluster per backend, from the fall-over model; undefined when the world does
 * not hold the route's AIServiceBackends and Backends (then nothing can be said).
 */
function clusterPerBackendOf(world: World, route: AIGatewayRoute): (ruleIndex: number) => boolean | undefined {
  let model: { split: boolean[]; known: boolean[] } | undefined;
  return (i) => {
    if (!model) {
      const providers = routeProviders(route as KubeObject, providerData(world));
      const fallover = routeFallover(route as KubeObject, btpsWith(world, null, route as KubeObject), providers);
      model = {
        split: fallover.rules.map((r) => r.split !== undefined),
        // InferencePool and DynamicResolver destinations are built otherwise: only plain address types are known.
        known: providers.map((p) => p.refs.every((r) => r.resolution.state === 'unresolved' || refAddressType(r) !== undefined)),
      };
    }
    return model.split[i] ? true : model.known[i] ? false : undefined;
  };
}

/** Gateways, when the world holds them (the given files; the cluster cache does not watch them). */
const GATEWAY_KEY = 'gateway.networking.k8s.io/Gateway';

/** A plain (user-written) HTTPRoute of that name, when the world holds HTTPRoutes: its names are not ours to judge. */
const HTTPROUTE_KEY = WORLD_KEYS.httpRoute;

function nsName(ref: XdsNameReference): [string, string] {
  const key = ref.parsed.ok ? ref.parsed.value : looseRouteKey(ref.text);
  return [key?.namespace ?? '', key?.name ?? ''];
}

/** The miss one reference makes, worded for the finding (full, with the fix) and for the Event (one line); undefined when it resolves. */
function judge(
  ref: XdsNameReference,
  referencing: Miss['referencing'],
  routeOf: (namespace: string, name: string) => AIGatewayRoute | null,
  plainHttpRoute: boolean,
  contextOf: (route: AIGatewayRoute) => XdsNameContext,
  gateways: KubeObject[] = [],
): { miss: Miss; message: string; summary: string } | undefined {
  const names = `jsonPatches[${ref.patchIndex}] names ${quoteName(ref.text)}`;
  if (!ref.parsed.ok) {
    const key = looseRouteKey(ref.text);
    const route = key ? routeOf(key.namespace, key.name) : null;
    const known = route && key ? ` AIGatewayRoute ${key.namespace}/${key.name} has ${plural(ruleCountOf(route), 'rule')}: ${listRules(route)}.` : '';
    return {
      miss: { reason: 'unparseable', ref, namespace: key?.namespace, name: key?.name, ruleCount: route ? ruleCountOf(route) : undefined, referencing },
      message: `${names}, which is not a name Envoy Gateway generates, so it matches nothing and the patch does not apply: ${ref.parsed.error}.${known} Fix: ${unparseableFix(ref.text, route)}.`,
      summary: 'not a name Envoy Gateway generates',
    };
  }
  const n = ref.parsed.value;
  const key = `${n.namespace}/${n.name}`;
  const route = routeOf(n.namespace, n.name);
  if (!route && plainHttpRoute) return undefined;
  const r = resolveXdsName(n, route, route ? contextOf(route) : {});
  if (r.ok) return undefined;
  const base = { ref, namespace: n.namespace, name: n.name, ruleIndex: n.ruleIndex, ruleCount: r.ruleCount, referencing };
  const rules = `${plural(r.ruleCount, 'rule')}: ${listRules(route)}`;
  const fixIndex = r.ruleCount > 0 ? `use a rule index ${indexRange(r.ruleCount)}` : 'add a rule to the AIGatewayRoute first';
  switch (r.reason) {
    case 'route-not-found':
      return {
        miss: { ...base, reason: r.reason, ruleCount: undefined },
        message:
          `${names}, but there is no AIGatewayRoute ${key}, so nothing generates this name and the patch does not apply. ` +
          `When the AIGatewayRoute is applied after this ${referencing.kind} (kubectl apply -f dir/ in file order, a GitOps sync), this goes away once it exists. ` +
          `Fix: create AIGatewayRoute ${key}, or correct the namespace and name in the reference.`,
        summary: `no AIGatewayRoute ${key}`,
      };
    case 'rule-index-out-of-range':
      return {
        miss: { ...base, reason: r.reason },
        message:
          `${names}, but AIGatewayRoute ${key} has ${rules}, and its generated HTTPRoute adds only the catch-all route-not-found rule at index ${r.ruleCount}; ` +
          `${targetOf(n)} does not exist, so the patch does not apply. Fix: ${fixIndex}.`,
        summary: `AIGatewayRoute ${key} has ${plural(r.ruleCount, 'rule')}, no rule ${n.ruleIndex}`,
      };
    case 'catch-all-rule':
      return {
        miss: { ...base, reason: r.reason },
        message:
          `${names}: rule ${n.ruleIndex} of the HTTPRoute generated from AIGatewayRoute ${key} is the catch-all route-not-found rule the controller adds after its ${rules}. ` +
          `The patch applies there, to requests no rule matches (e.g. a header on the 404), and changes no model rule; if you meant a model rule, this is an index mistake. Fix: ${fixIndex}.`,
        summary: `rule ${n.ruleIndex} is the generated catch-all route-not-found rule of AIGatewayRoute ${key} (${plural(r.ruleCount, 'rule')})`,
      };
    case 'backend-index-out-of-range': {
      const backendIndex = n.kind === 'backend-cluster' ? n.backendIndex : 0;
      const count = ruleBackendCount(route, n.ruleIndex);
      return {
        miss: { ...base, reason: r.reason },
        message:
          `${names}, but ${ruleLabel(route, n.ruleIndex)} of AIGatewayRoute ${key} has ${plural(count, 'backendRef')}: ${listBackends(route, n.ruleIndex)}; ` +
          `${targetOf(n)} does not exist, so the patch does not apply. Fix: use a backend index ${indexRange(count)}, or the rule's cluster httproute/${key}/rule/${n.ruleIndex}. ` +
          `(AIGatewayRoute ${key} has ${rules}.)`,
        summary: `rule ${n.ruleIndex} of AIGatewayRoute ${key} has ${plural(count, 'backendRef')}, no backend ${backendIndex}`,
      };
    }
    case 'no-backend-clusters':
      return {
        miss: { ...base, reason: r.reason },
        message:
          `${names}, but ${ruleLabel(route, n.ruleIndex)} of AIGatewayRoute ${key} gets one cluster for all its backends (they resolve to one address type and no zone-aware load balancing applies), ` +
          `named httproute/${key}/rule/${n.ruleIndex}; Envoy Gateway builds per-backend clusters (…/backend/<j>) only for a rule it splits, so ${targetOf(n)} does not exist and the patch does not apply. ` +
          `Fix: patch the rule's cluster httproute/${key}/rule/${n.ruleIndex}.`,
        summary: `rule ${n.ruleIndex} of AIGatewayRoute ${key} has one cluster, no per-backend clusters`,
      };
    case 'match-index-out-of-range': {
      const rule = routeRules(route)[n.ruleIndex]!;
      const count = generatedMatchCountOf(rule);
      const listed = ruleMatches(rule).length === 0 ? ' (it lists none, so it gets the CRD default path prefix /)' : '';
      return {
        miss: { ...base, reason: r.reason },
        message:
          `${names}, but ${ruleLabel(route, n.ruleIndex)} of AIGatewayRoute ${key} has ${plural(count, 'match', 'matches')}${listed}; ` +
          `${targetOf(n)} does not exist, so the patch does not apply. Fix: use a match index ${indexRange(count)}.`,
        summary: `rule ${n.ruleIndex} of AIGatewayRoute ${key} has ${plural(count, 'match', 'matches')}, no match ${n.kind === 'route' ? n.matchIndex : 0}`,
      };
    }
    case 'host-not-generated': {
      const hostnames = routeHostnames(route!);
      const listeners = listenerHostnames(route as KubeObject, gateways);
      const hosts = [...(generatedHosts(hostnames, listeners) ?? new Set(hostnames.map(xdsHost)))];
      const source = listeners
        ? `its Gateway listeners (hostnames ${listeners.map((h) => h ?? 'none').join(', ')}) and spec.hostnames [${hostnames.join(', ')}] give the host`
        : `AIGatewayRoute ${key} sets spec.hostnames [${hostnames.join(', ')}], so Envoy Gateway writes the host`;
      return {
        miss: { ...base, reason: r.reason },
        message:
          `${names}, but ${source} of its route names as ${hosts.join(' or ')} ` +
          `(a "." written "_"); "${n.kind === 'route' ? n.host : ''}" is never generated, so the patch does not apply. ` +
          `Fix: write httproute/${key}/rule/${n.ruleIndex}/match/${n.kind === 'route' ? n.matchIndex : 0}/${hosts[0]}.`,
        summary: `AIGatewayRoute ${key} route names have host ${hosts.join(', ')}`,
      };
    }
  }
}

/** A rule written by name (`rule/chat`) gets the index to write instead. */
function unparseableFix(text: string, route: AIGatewayRoute | null): string {
  const written = text.split('/')[4];
  const index = written ? routeRules(route).findIndex((r) => r.name === written) : -1;
  if (index < 0) return 'write the name in one of those shapes';
  return `write rule/${index} for rule "${written}" (${text.replace(`/rule/${written}`, `/rule/${index}`)})`;
}

const ruleCountOf = (route: AIGatewayRoute | null) => routeRules(route).length;

function ruleBackendCount(route: AIGatewayRoute | null, ruleIndex: number): number {
  const rule = routeRules(route)[ruleIndex];
  return rule ? ruleBackendRefs(rule).length : 0;
}
