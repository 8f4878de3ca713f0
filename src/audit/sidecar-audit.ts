import type { Finding, KubeObject, ResourceRef } from '../kube/types.js';
import type { World } from '../world/world.js';
import { WORLD_KEYS } from '../model/kinds.js';
import {
  EXTPROC_CONTAINER_NAME,
  INJECT_ANNOTATION,
  INJECTED_ANNOTATION,
  existingSidecar,
  isEnvoyGatewayPod,
  owningGateway,
  placementFor,
  podSpecView,
  routesAttachedTo,
  templateDigest,
  type GatewayRef,
  type SidecarTemplate,
} from '../model/sidecar.js';

/** Policy id of the audit's own finding about proxy pods; not an admission policy (pods are injected, not judged). */
export const SIDECAR_DRIFT_POLICY = 'sidecar-drift';

export interface SidecarAuditOptions {
  /** The inject policy's current parameters (what would be injected now). */
  template: SidecarTemplate & { requireAIGatewayRoute?: boolean };
  kubernetesMinor: number | undefined;
}

export interface SidecarAuditResult {
  findings: Finding[];
  /** Proxy pods of Gateways that need the sidecar: what was checked (pass results for the clean ones). */
  checked: KubeObject[];
}

interface InjectedRecord {
  image?: unknown;
  placement?: unknown;
  template?: unknown;
}

function readRecord(pod: KubeObject): InjectedRecord | undefined {
  const raw = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  if (raw === undefined) return undefined;
  try {
    const parsed = JSON.parse(raw) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as InjectedRecord) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The Deployment behind a pod: its ReplicaSet owner is named `<deployment>-<pod-template-hash>`. Envoy Gateway runs
 * proxies as Deployments by default (a DaemonSet when so configured).
 */
function restartHint(pod: KubeObject, gateway: GatewayRef): string {
  const owners = (pod.metadata?.ownerReferences ?? []) as { kind?: string; name?: string }[];
  const ns = pod.metadata?.namespace ?? '';
  const rs = owners.find((o) => o.kind === 'ReplicaSet')?.name;
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (rs && hash && rs.endsWith(`-${hash}`)) return `kubectl rollout restart deployment/${rs.slice(0, -hash.length - 1)} -n ${ns}`;
  const ds = owners.find((o) => o.kind === 'DaemonSet')?.name;
  if (ds) return `kubectl rollout restart daemonset/${ds} -n ${ns}`;
  return `restart the proxy Deployment of Gateway ${gateway.namespace}/${gateway.name} in ${ns} (kubectl rollout restart)`;
}

function containerImage(pod: KubeObject): string | undefined {
  const view = podSpecView(pod);
  const c = [...view.containers, ...view.initContainers].find((x) => x.name === EXTPROC_CONTAINER_NAME);
  return typeof c?.image === 'string' ? c.image : undefined;
}

/**
 * Every Envoy Gateway proxy pod of a Gateway that AIGatewayRoutes name must run the ext_proc sidecar, built from the
 * current template: a missing one means every AI request through it fails; an old one runs what the config no longer
 * says. Both are fixed by new pods, which the webhook injects afresh. Pods opted out with the inject annotation are
 * left alone.
 */
export function auditSidecars(pods: readonly KubeObject[], world: World, opts: SidecarAuditOptions): SidecarAuditResult {
  const findings: Finding[] = [];
  const checked: KubeObject[] = [];
  const placement = placementFor(opts.kubernetesMinor);
  for (const pod of pods) {
    if (!isEnvoyGatewayPod(pod)) continue;
    const gateway = owningGateway(pod);
    if (!gateway || pod.metadata?.annotations?.[INJECT_ANNOTATION] === 'false') continue;
    if ((opts.template.requireAIGatewayRoute ?? true) && routesAttachedTo(world.list(WORLD_KEYS.aiGatewayRoute), gateway).length === 0) continue;
    checked.push(pod);
    const resource: ResourceRef = { apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata?.namespace ?? '', name: pod.metadata?.name ?? '' };
    const add = (path: string, message: string) => findings.push({ policy: SIDECAR_DRIFT_POLICY, mode: 'warn', resource, path, message });
    const gw = `${gateway.namespace}/${gateway.name}`;
    const fix = `restart the Gateway's proxies so the webhook injects the current one: ${restartHint(pod, gateway)}`;
    const present = existingSidecar(podSpecView(pod));
    if (!present) {
      add(
        `spec.${placement}`,
        `no ${EXTPROC_CONTAINER_NAME} sidecar, but AIGatewayRoutes name Gateway ${gw}: every AI request through this proxy fails (the pod was created without the webhook, e.g. before it was installed or while it was down); ${fix}`,
      );
      continue;
    }
    const want = templateDigest(opts.template, placement, gateway);
    const record = readRecord(pod);
    const running = containerImage(pod) ?? 'unknown image';
    if (!record) {
      // Injected by someone else (upstream's controller, by hand): only the image can be compared.
      if (running !== opts.template.image) {
        add(
          `spec.${present}`,
          `${EXTPROC_CONTAINER_NAME} runs ${running} (not injected by aigw-admission: no ${INJECTED_ANNOTATION} annotation), the config injects ${opts.template.image}; ${fix}`,
        );
      }
      continue;
    }
    if (record.template === want) continue;
    const recordedImage = typeof record.image === 'string' ? record.image : running;
    const what =
      recordedImage !== opts.template.image
        ? `image ${recordedImage} → ${opts.template.image}`
        : record.placement !== placement
          ? `placement spec.${String(record.placement)} → spec.${placement}`
          : `same image ${recordedImage}, other settings changed`;
    add(
      `metadata.annotations["${INJECTED_ANNOTATION}"]`,
      `${EXTPROC_CONTAINER_NAME} was injected from template ${String(record.template)}, the current config injects ${want} (${what}); ${fix}`,
    );
  }
  return { findings, checked };
}
