import type { KindMatch } from '../review/policy.js';

/** The kinds policies match, with the plural resource and versions the webhook rules in deploy/ list. */
export const AIGATEWAYROUTE: KindMatch = {
  group: 'aigateway.envoyproxy.io',
  kind: 'AIGatewayRoute',
  resource: 'aigatewayroutes',
  versions: ['v1alpha1', 'v1beta1'],
};
