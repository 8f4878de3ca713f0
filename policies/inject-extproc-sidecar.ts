import { definePolicy } from '../src/review/policy.js';
import type { FindingDraft, KubeObject, Observation } from '../src/kube/types.js';
import { POD, WORLD_KEYS } from '../src/model/kinds.js';
import {
  ENVOY_CONTAINER_NAME,
  EXTPROC_CONTAINER_NAME,
  FILTER_CONFIG_VOLUME_NAME,
  INJECT_ANNOTATION,
  INJECTED_ANNOTATION,
  NATIVE_SIDECAR_MIN_MINOR,
  UDS_MOUNT_PATH,
  UDS_VOLUME_NAME,
  envoyUdsMount,
  existingSidecar,
  filterConfigSecretName,
  injectedSidecar,
  isEnvoyGatewayPod,
  owningGateway,
  placementFor,
  podSpecView,
  routesAttachedTo,
  type GatewayRef,
  type PodSpecView,
  type SidecarTemplate,
} from '../src/model/sidecar.js';

export interface InjectParams extends SidecarTemplate {
  /** Inject only into proxies of Gateways that some AIGatewayRoute names in `parentRefs` (upstream's rule). */
  requireAIGatewayRoute: boolean;
}

const QUANTITY = '^[+-]?([0-9]+(\\.[0-9]*)?|\\.[0-9]+)([eE][+-]?[0-9]+|[numkMGTPE]i?|Ki|Mi|Gi|Ti|Pi|Ei)?$';
const resourceList = { type: 'object', additionalProperties: { type: 'string', pattern: QUANTITY } };

/** A short name for the pod in messages: the API server has not generated the name yet on CREATE. */
function podLabel(pod: KubeObject): string {
  const m = pod.metadata ?? {};
  return `${m.namespace ?? ''}/${m.name ?? `${m.generateName ?? ''}*`}`;
}

/** Names and mounts that would clash with what is injected: the API server would refuse the pod, or Envoy would use a foreign socket. */
function conflicts(view: PodSpecView, gateway: GatewayRef): { path: string; problem: string }[] {
  const out: { path: string; problem: string }[] = [];
  view.volumes.forEach((v, i) => {
    if (v.name === UDS_VOLUME_NAME && !(v.emptyDir && Object.keys(v).length === 2)) {
      out.push({ path: `spec.volumes[${i}]`, problem: `volume ${UDS_VOLUME_NAME} exists and is not an emptyDir` });
    }
    const secret = v.secret as { secretName?: unknown } | undefined;
    if (v.name === FILTER_CONFIG_VOLUME_NAME && secret?.secretName !== filterConfigSecretName(gateway)) {
      out.push({ path: `spec.volumes[${i}]`, problem: `volume ${FILTER_CONFIG_VOLUME_NAME} exists and is not the Secret ${filterConfigSecretName(gateway)}` });
    }
  });
  view.containers.forEach((c, i) => {
    if (c.name !== ENVOY_CONTAINER_NAME || !Array.isArray(c.volumeMounts)) return;
    c.volumeMounts.forEach((m: { name?: unknown; mountPath?: unknown }, j: number) => {
      if (m?.mountPath === UDS_MOUNT_PATH && m.name !== UDS_VOLUME_NAME) {
        out.push({ path: `spec.containers[${i}].volumeMounts[${j}]`, problem: `${UDS_MOUNT_PATH} is already mounted from volume ${String(m.name)}` });
      }
    });
  });
  return out;
}

function hasMount(container: { volumeMounts?: unknown }): boolean {
  return Array.isArray(container.volumeMounts) && container.volumeMounts.some((m) => m?.name === UDS_VOLUME_NAME && m?.mountPath === UDS_MOUNT_PATH);
}

function listRoutes(routes: KubeObject[]): string {
  const names = routes.map((r) => `${r.metadata?.namespace}/${r.metadata?.name}`);
  return names.length <= 3 ? names.join(', ') : `${names.slice(0, 3).join(', ')} and ${names.length - 3} more`;
}

export default definePolicy<InjectParams>({
  id: 'inject-extproc-sidecar',
  description:
    "Injects AI Gateway's ext_proc sidecar into Envoy Gateway proxy pods of Gateways with AIGatewayRoutes; without it every AI request fails at the proxy.",
  endpoint: 'mutate',
  match: { kinds: [POD], operations: ['CREATE'] },
  defaultMode: 'warn',
  modes: ['warn', 'audit'],
  // An Envoy pod must never be kept from starting by a bug here: admit it uninjected and say so.
  onError: 'allow-with-warning',
  paramsSchema: {
    type: 'object',
    additionalProperties: false,
    properties: {
      image: { type: 'string', minLength: 1, pattern: '^\\S+$' },
      imagePullPolicy: { enum: ['Always', 'IfNotPresent', 'Never'] },
      logLevel: { enum: ['debug', 'info', 'warn', 'error'] },
      resources: {
        type: 'object',
        additionalProperties: false,
        properties: { requests: resourceList, limits: resourceList },
      },
      env: {
        type: 'object',
        propertyNames: { pattern: '^[-._a-zA-Z][-._a-zA-Z0-9]*$' },
        additionalProperties: {
          oneOf: [
            { type: 'string' },
            {
              type: 'object',
              additionalProperties: false,
              required: ['valueFrom'],
              properties: {
                valueFrom: {
                  type: 'object',
                  minProperties: 1,
                  maxProperties: 1,
                  additionalProperties: false,
                  properties: {
                    secretKeyRef: { type: 'object' },
                    configMapKeyRef: { type: 'object' },
                    fieldRef: { type: 'object' },
                    resourceFieldRef: { type: 'object' },
                  },
                },
              },
            },
          ],
        },
      },
      requireAIGatewayRoute: { type: 'boolean' },
    },
  },
  defaultParams: {
    image: 'docker.io/envoyproxy/ai-gateway-extproc:v1.1.0',
    imagePullPolicy: 'IfNotPresent',
    logLevel: 'info',
    resources: {},
    env: {},
    requireAIGatewayRoute: true,
  },
  vap: { missing: 'mutation', why: 'injects the ext_proc sidecar into Envoy pods; a ValidatingAdmissionPolicy cannot patch' },
  evaluate({ object: pod, params, mode, world, patch }) {
    if (!pod) return {};
    const observations: Observation[] = [];
    const findings: FindingDraft[] = [];
    const skip = (reason: string, detail: string, extra: Record<string, unknown> = {}) => {
      observations.push({ event: 'sidecar_injection_skipped', reason, fields: { pod: podLabel(pod), detail, ...extra } });
      return { observations, findings };
    };

    if (!isEnvoyGatewayPod(pod)) return skip('not-envoy-proxy', 'the pod is not labelled app.kubernetes.io/managed-by: envoy-gateway');
    const gateway = owningGateway(pod);
    if (!gateway) return skip('no-owning-gateway', 'the pod has no gateway.envoyproxy.io/owning-gateway-name and -namespace labels (not a Gateway proxy)');

    const optOut = pod.metadata?.annotations?.[INJECT_ANNOTATION];
    if (optOut === 'false') return skip('opted-out', `annotation ${INJECT_ANNOTATION}: "false"`, { gateway: `${gateway.namespace}/${gateway.name}` });
    if (optOut !== undefined && optOut !== 'true') {
      findings.push({
        path: `metadata.annotations["${INJECT_ANNOTATION}"]`,
        message: `unknown value ${JSON.stringify(optOut)}: use "false" to opt out of the ext_proc sidecar or "true" (the default); injecting as if it were "true"`,
      });
    }

    const view = podSpecView(pod);
    const present = existingSidecar(view);
    if (present) return skip('already-injected', `spec.${present} already has ${EXTPROC_CONTAINER_NAME}`, { gateway: `${gateway.namespace}/${gateway.name}` });

    const routes = routesAttachedTo(world.list(WORLD_KEYS.aiGatewayRoute), gateway);
    if (routes.length === 0 && params.requireAIGatewayRoute) {
      return skip('no-aigatewayroute', `no AIGatewayRoute has Gateway ${gateway.namespace}/${gateway.name} in spec.parentRefs`, {
        gateway: `${gateway.namespace}/${gateway.name}`,
      });
    }

    const envoyIndexes = view.containers.flatMap((c, i) => (c.name === ENVOY_CONTAINER_NAME ? [i] : []));
    if (envoyIndexes.length === 0) {
      findings.push({
        path: 'spec.containers',
        message: `no container named ${ENVOY_CONTAINER_NAME}, so nothing could reach the ext_proc socket: the ${EXTPROC_CONTAINER_NAME} sidecar was not injected. If this pod is an Envoy proxy, name its Envoy container "${ENVOY_CONTAINER_NAME}"; otherwise annotate it ${INJECT_ANNOTATION}: "false"`,
      });
      return skip('no-envoy-container', 'no container named envoy', { gateway: `${gateway.namespace}/${gateway.name}` });
    }
    const clashes = conflicts(view, gateway);
    if (clashes.length > 0) {
      for (const c of clashes) {
        findings.push({
          path: c.path,
          message: `${c.problem}: the ${EXTPROC_CONTAINER_NAME} sidecar was not injected, so AI requests through Gateway ${gateway.namespace}/${gateway.name} will fail at this proxy. Remove or rename it (the name and path belong to the injected sidecar), or annotate the pod ${INJECT_ANNOTATION}: "false" if you inject the sidecar yourself`,
        });
      }
      return skip('conflict', clashes.map((c) => `${c.path}: ${c.problem}`).join('; '), { gateway: `${gateway.namespace}/${gateway.name}` });
    }

    const minor = world.kubernetesMinor();
    const placement = placementFor(minor);
    const injected = injectedSidecar(params, placement, gateway);
    patch.set(['metadata', 'annotations', INJECTED_ANNOTATION], injected.annotation);
    for (const volume of injected.volumes) {
      // A matching volume the pod already has is reused (conflicts() refused the others).
      if (!view.volumes.some((v) => v.name === volume.name)) patch.append(['spec', 'volumes'], volume);
    }
    patch.append(['spec', placement], injected.container);
    for (const i of envoyIndexes) {
      if (!hasMount(view.containers[i]!)) patch.append(['spec', 'containers', i, 'volumeMounts'], envoyUdsMount());
    }

    const how =
      placement === 'initContainers'
        ? `as a native sidecar in spec.initContainers (Kubernetes 1.${minor})`
        : minor === undefined
          ? `as a regular container in spec.containers (Kubernetes version unknown; native sidecars need 1.${NATIVE_SIDECAR_MIN_MINOR}+, set kubernetesMinor in the config)`
          : `as a regular container in spec.containers (Kubernetes 1.${minor}; native sidecars need 1.${NATIVE_SIDECAR_MIN_MINOR}+)`;
    const why = routes.length > 0 ? `AIGatewayRoutes ${listRoutes(routes)}` : 'requireAIGatewayRoute is off';
    findings.push({
      path: `spec.${placement}`,
      message: `${mode === 'audit' ? 'would inject' : 'injected'} ${EXTPROC_CONTAINER_NAME} (${params.image}) ${how} for Gateway ${gateway.namespace}/${gateway.name} (${why}), with its filter config from Secret ${filterConfigSecretName(gateway)}; every ${ENVOY_CONTAINER_NAME} container mounts the socket at ${UDS_MOUNT_PATH}`,
    });
    observations.push(
      mode === 'audit'
        ? { event: 'sidecar_injection_skipped', reason: 'audit-mode', fields: { pod: podLabel(pod), gateway: `${gateway.namespace}/${gateway.name}` } }
        : { event: 'sidecar_injected', reason: placement === 'initContainers' ? 'native-sidecar' : 'container', fields: { pod: podLabel(pod), gateway: `${gateway.namespace}/${gateway.name}`, image: params.image } },
    );
    return { observations, findings };
  },
});
