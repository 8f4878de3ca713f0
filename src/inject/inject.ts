import { apply_patch } from 'jsonpatch';
import type { AnyPolicy } from '../review/policy.js';
import { PolicySet, type PolicySettings } from '../review/policy-set.js';
import { review } from '../review/review.js';
import { silentLogger } from '../review/deps.js';
import type { JsonPatchOperation, KubeObject } from '../kube/types.js';
import { reviewFor } from '../kube/request.js';
import { MemoryWorld } from '../world/world.js';
import { WORLD_KEYS } from '../model/kinds.js';
import type { Manifest } from '../input/manifests.js';

export interface InjectedPod {
  source: string;
  /** The object as given (a Pod, or a workload whose pod template was injected), after injection. */
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
  const pods = manifests.filter((m) => podTemplatePointer(m.object) !== undefined);
  return {
    notes,
    pods: pods.map((m, i) => {
      const pointer = podTemplatePointer(m.object)!;
      const target = withTemplate(m.object, pointer);
      const template = pointer === '' ? target : (getPointer(target, pointer) as KubeObject);
      const pod: KubeObject =
        pointer === '' ? target : { apiVersion: 'v1', kind: 'Pod', metadata: { ...(template.metadata ?? {}), namespace: m.object.metadata?.namespace }, spec: template.spec };
      const input = reviewFor(pod, 'CREATE', { uid: `inject-${i}`, namespace: m.object.metadata?.namespace ?? 'default', dryRun: true });
      const { review: out, verdict } = review(input, 'mutate', { policies, world, now: opts.now, logger: silentLogger });
      const skip = verdict.observations.find((o) => o.event === 'sidecar_injection_skipped');
      const skipped = skip ? { reason: skip.reason, detail: String(skip.fields?.detail ?? '') } : undefined;
      // The ops the response carries (none when the pod was refused or the policy only audits), moved under the
      // workload's pod template.
      const podPatch: JsonPatchOperation[] = out.response.patch ? verdict.patch : [];
      const patch = podPatch.map((op) => relocate(op, pointer));
      const injected = patch.length > 0 ? (apply_patch(target, patch) as KubeObject) : m.object;
      return { source: m.source, pod: injected, patch, warnings: out.response.warnings ?? [], skipped };
    }),
  };
}

/** Where the pod template of a workload is (JSON pointer), '' for a Pod itself, undefined for anything else. */
export function podTemplatePointer(object: KubeObject): string | undefined {
  const [group] = String(object.apiVersion).split('/');
  const core = !String(object.apiVersion).includes('/');
  if (core && object.kind === 'Pod') return '';
  if (core && (object.kind === 'ReplicationController' || object.kind === 'PodTemplate')) return object.kind === 'PodTemplate' ? '/template' : '/spec/template';
  if (group === 'apps' && ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(String(object.kind))) return '/spec/template';
  if (group === 'batch' && object.kind === 'Job') return '/spec/template';
  if (group === 'batch' && object.kind === 'CronJob') return '/spec/jobTemplate/spec/template';
  return undefined;
}

function getPointer(object: unknown, pointer: string): unknown {
  return pointer
    .split('/')
    .slice(1)
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), object);
}

/** A copy whose pod template and its metadata exist, so the patch's paths under them resolve. */
function withTemplate(object: KubeObject, pointer: string): KubeObject {
  const copy = structuredClone(object);
  if (pointer === '') return copy;
  let node = copy as Record<string, unknown>;
  for (const key of [...pointer.split('/').slice(1), 'metadata']) {
    if (!node[key] || typeof node[key] !== 'object') node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  return copy;
}

function relocate(op: JsonPatchOperation, pointer: string): JsonPatchOperation {
  if (pointer === '') return op;
  const moved = { ...op, path: `${pointer}${op.path}` };
  return 'from' in op ? { ...moved, from: `${pointer}${op.from}` } as JsonPatchOperation : (moved as JsonPatchOperation);
}
