import { BTP_RETRY_BACKOFF_INVALID_VAP } from '../src/vap/forms.js';
import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft } from '../src/kube/types.js';
import { BACKENDTRAFFICPOLICY } from '../src/model/kinds.js';
import { btpRef, refLabel, refusedValues } from '../src/model/btp.js';
import { routesOfBtp } from './fallover-shared.js';
import { NO_PARAMS } from './helpers.js';

/**
 * A retry back-off the CRD accepts and Envoy Gateway refuses: it marks the whole policy Invalid and every route the
 * policy targets answers 500 (golden backendtrafficpolicy-with-retries: `directResponse: {statusCode: 500}`). That is
 * an outage of every model behind those routes, so it is denied by default.
 */
export default definePolicy({
  id: 'btp-retry-refused',
  description:
    'A BackendTrafficPolicy retry back-off that Envoy Gateway refuses (baseInterval or maxInterval 0s, maxInterval below baseInterval): the policy becomes Invalid and every route it targets answers 500.',
  endpoint: 'validate',
  match: { kinds: [BACKENDTRAFFICPOLICY], operations: ['CREATE', 'UPDATE'] },
  defaultMode: 'deny',
  vap: { form: BTP_RETRY_BACKOFF_INVALID_VAP },
  onError: 'allow-with-warning',
  paramsSchema: NO_PARAMS,
  defaultParams: {},
  evaluate({ object, world }) {
    if (!object) return {};
    const refused = refusedValues(object);
    if (refused.length === 0) return {};
    const self = btpRef(object);
    const routes = routesOfBtp(world, object).map((r) => `${r.metadata?.namespace}/${r.metadata?.name}`);
    const hit = routes.length ? `: AIGatewayRoute ${routes.join(', ')} would stop serving every model` : '';
    const findings: FindingDraft[] = refused.map((v) => ({
      path: v.path,
      message:
        `${v.path.split('.').pop()} ${v.value} is accepted by the CRD but refused by Envoy Gateway ("Retry: ${v.error}."), which marks BackendTrafficPolicy ${refLabel(self)} Invalid ` +
        `and answers every request on the routes it targets with HTTP 500${hit}. ` +
        `Fix: ${fixOf(v.error)}.`,
    }));
    return { findings };
  },
});

function fixOf(error: string): string {
  if (error.startsWith('baseInterval')) return 'set spec.retry.perRetry.backOff.baseInterval above 0s (e.g. 100ms), or remove it for Envoy\'s 25ms default';
  if (error.startsWith('maxInterval cannot be set')) return 'set spec.retry.perRetry.backOff.maxInterval above 0s, or remove it (Envoy then uses 10 × baseInterval)';
  return 'set spec.retry.perRetry.backOff.maxInterval to baseInterval or more, or remove it (Envoy then uses 10 × baseInterval)';
}
