import { apply_patch } from 'jsonpatch';
import type { AnyPolicy } from '../review/policy.js';
import { PolicySet, type PolicySettings } from '../review/policy-set.js';
import { fullWarnings, review } from '../review/review.js';
import { silentLogger } from '../review/deps.js';
import type { AdmissionReviewRequest, JsonPatchOperation, KubeObject } from '../kube/types.js';
import { MemoryWorld } from '../world/world.js';
import { WORLD_KEYS } from '../model/kinds.js';
import type { Manifest } from '../input/manifests.js';

export interface InjectedPod {
  source: string;
  pod: KubeObject;
  patch: JsonPatchOperation[];
  warnings: string[];
  /** Why nothing was injected, when nothing was. */
  skipped?: { reason: string; detail: string };
}

export interface InjectResult {
  pods: InjectedPod[];
  /** Said once on stderr by the CLI. */
  notes: string[];
}

const POLICY_ID = 'inject-extproc-sidecar';

/**
 * `aigw-admission inject`: every Pod in the manifests goes through the same review as a Pod CREATE on /mutate; the other
 * objects (AIGatewayRoutes) are the world. Without any AIGatewayRoute given, the Gateway check is off and a note says so.
 */
export function injectPods(
  manifests: readonly Manifest[],
  opts: { policies: readonly AnyPolicy[]; settings: Readonly<Record<string, PolicySettings>>; kubernetesMinor?: number; now: () => Date },
): InjectResult {
  const world = new MemoryWorld(manifests.map((m) => m.object).filter((o) => o.kind !== 'Pod'), { kubernetesMinor: opts.kubernetesMinor });
  const notes: string[] = [];
  let settings = opts.settings;
  if (world.list(WORLD_KEYS.aiGatewayRoute).length === 0) {
    const current = settings[POLICY_ID] ?? {};
    settings = { ...settings, [POLICY_ID]: { ...current, params: { ...(current.params ?? {}), requireAIGatewayRoute: false } } };
    notes.push('no AIGatewayRoute among the files: injecting without checking that one names the pod\'s Gateway in parentRefs (add the routes with -f to check)');
  }
  if (opts.kubernetesMinor === undefined) {
    notes.push('Kubernetes version not given: the sidecar goes into spec.containers; pass --kubernetes-minor 33 (or set kubernetesMinor in the config) for a native sidecar');
  }
  const policies = new PolicySet(opts.policies, settings);
  const pods = manifests.filter((m) => m.object.kind === 'Pod' && m.object.apiVersion === 'v1');
  return {
    notes,
    pods: pods.map((m, i) => {
      const input: AdmissionReviewRequest = {
        apiVersion: 'admission.k8s.io/v1',
        kind: 'AdmissionReview',
        request: {
          uid: `inject-${i}`,
          kind: { group: '', version: 'v1', kind: 'Pod' },
          resource: { group: '', version: 'v1', resource: 'pods' },
          namespace: m.object.metadata?.namespace ?? 'default',
          operation: 'CREATE',
          object: m.object,
          oldObject: null,
          dryRun: true,
        },
      };
      const { review: out, verdict } = review(input, 'mutate', { policies, world, now: opts.now, logger: silentLogger });
      const skip = verdict.observations.find((o) => o.event === 'sidecar_injection_skipped');
      const skipped = skip ? { reason: skip.reason, detail: String(skip.fields?.detail ?? '') } : undefined;
      // The ops the response carries (none when the pod was refused or the policy only audits).
      const patch: JsonPatchOperation[] = out.response.patch ? verdict.patch : [];
      const pod = patch.length > 0 ? (apply_patch(structuredClone(m.object), patch) as KubeObject) : m.object;
      return { source: m.source, pod, patch, warnings: fullWarnings(verdict), skipped };
    }),
  };
}
