import type { KindMatch } from '../review/policy.js';

/** The kinds policies match, with the plural resource and versions the webhook rules in deploy/ list. */
export const AIGATEWAYROUTE: KindMatch = {
  group: 'aigateway.envoyproxy.io',
  kind: 'AIGatewayRoute',
  resource: 'aigatewayroutes',
  versions: ['v1alpha1', 'v1beta1'],
};

export const POD: KindMatch = { group: '', kind: 'Pod', resource: 'pods', versions: ['v1'] };

export const ENVOYPATCHPOLICY: KindMatch = {
  group: 'gateway.envoyproxy.io',
  kind: 'EnvoyPatchPolicy',
  resource: 'envoypatchpolicies',
  versions: ['v1alpha1'],
};

export const BACKENDTRAFFICPOLICY: KindMatch = {
  group: 'gateway.envoyproxy.io',
  kind: 'BackendTrafficPolicy',
  resource: 'backendtrafficpolicies',
  versions: ['v1alpha1'],
};

/** World keys (`group/Kind`) of the kinds the cluster cache holds. */
export const WORLD_KEYS = {
  aiGatewayRoute: 'aigateway.envoyproxy.io/AIGatewayRoute',
  aiServiceBackend: 'aigateway.envoyproxy.io/AIServiceBackend',
  envoyPatchPolicy: 'gateway.envoyproxy.io/EnvoyPatchPolicy',
  backendTrafficPolicy: 'gateway.envoyproxy.io/BackendTrafficPolicy',
  backend: 'gateway.envoyproxy.io/Backend',
  httpRoute: 'gateway.networking.k8s.io/HTTPRoute',
  pod: '/Pod',
} as const;
