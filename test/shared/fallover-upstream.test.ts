/** The real BackendTrafficPolicy bodies of ../shared/fixtures/admission-reviews, judged with and without their routes. */
import { describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { HAS_SHARED, SHARED, deps, readJson, warningsInFull } from '../helpers.js';
import { review } from '../../src/review/review.js';
import { parseAdmissionReview } from '../../src/review/parse.js';
import { MemoryWorld } from '../../src/world/world.js';
import type { KubeObject } from '../../src/kube/types.js';

const body = (name: string) => parseAdmissionReview(readJson(join(SHARED, 'fixtures/admission-reviews', `${name}.json`)));
const routeOf = (name: string) => body(name).request.object as KubeObject;

describe.runIf(HAS_SHARED)('real BackendTrafficPolicy admission bodies', () => {
  it('the stream_idle_timeout retry, created before its route, is admitted with the ordering warning only', () => {
    const { review: out, verdict } = review(body('backendtrafficpolicy-example-stream-idle-retry-create-validate'), 'validate', deps());
    expect(out.response.allowed).toBe(true);
    expect(out.response.warnings).toHaveLength(1);
    expect(warningsInFull(verdict)).toEqual([
      '[btp-target-not-found] spec.targetRefs[0].name: BackendTrafficPolicy ex-stream-idle/stream-idle-timeout targets HTTPRoute ex-stream-idle/stream-idle-timeout, but no AIGatewayRoute stream-idle-timeout exists in namespace ex-stream-idle ' +
        '(AIGatewayRoutes there: none), so no generated HTTPRoute has that name: Envoy Gateway skips the policy without writing any status, and nothing in it (retry included) applies. ' +
        "Fix: set spec.targetRefs[0].name to the AIGatewayRoute's name (its generated HTTPRoute has the same name and namespace), or create the policy in the route's namespace. " +
        'If the route is applied together with this policy (kubectl apply -f dir/), this warning is expected.',
    ]);
  });

  it.each([
    ['backendtrafficpolicy-example-stream-idle-retry-create-validate', 'aigatewayroute-example-stream-idle-timeout-create-validate'],
    ['backendtrafficpolicy-update-validate', 'aigatewayroute-example-stream-idle-timeout-create-validate'],
    ['backendtrafficpolicy-sectionname-rule-name-create-validate', 'aigatewayroute-two-rules-kubectl-create-create-validate'],
  ])('%s next to its route: no finding', (btp, routeBody) => {
    const { review: out, verdict } = review(body(btp), 'validate', deps({ world: new MemoryWorld([routeOf(routeBody)]) }));
    expect(verdict.findings).toEqual([]);
    expect(out.response.allowed).toBe(true);
  });

  it('the sectionName body, once rule "chat" is renamed, gets btp-section-not-found', () => {
    const route = structuredClone(routeOf('aigatewayroute-two-rules-kubectl-create-create-validate')) as { spec: { rules: Array<{ name?: string }> } };
    route.spec.rules[0]!.name = 'completions';
    const { verdict } = review(body('backendtrafficpolicy-sectionname-rule-name-create-validate'), 'validate', deps({ world: new MemoryWorld([route as KubeObject]) }));
    expect(verdict.findings.map((f) => [f.policy, f.path, f.message])).toEqual([
      [
        'btp-section-not-found',
        'spec.targetRefs[0].sectionName',
        'BackendTrafficPolicy default/two-rule-route-chat-retry targets sectionName "chat" of HTTPRoute default/two-rule-route, but no rule of AIGatewayRoute default/two-rule-route is named "chat" (rule names: "completions", "embeddings"): ' +
          'Envoy Gateway reports Accepted=False with reason TargetNotFound only in the policy status, and the policy applies to no rule (its retry included). ' +
          'Fix: set spec.targetRefs[0].sectionName to one of "completions", "embeddings", or name the rule "chat" in AIGatewayRoute default/two-rule-route.',
      ],
    ]);
  });
});
