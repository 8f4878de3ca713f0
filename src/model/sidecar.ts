import { createHash } from 'node:crypto';
import type { KubeObject } from '../kube/types.js';
import { attachesTo } from './parent-refs.js';

/** What upstream's controller injects into Envoy Gateway proxy pods (SPEC §4). */
export const EXTPROC_CONTAINER_NAME = 'ai-gateway-extproc';
export const ENVOY_CONTAINER_NAME = 'envoy';
export const UDS_VOLUME_NAME = 'ai-gateway-extproc-uds';
export const UDS_MOUNT_PATH = '/etc/ai-gateway-extproc-uds';
export const FILTER_CONFIG_VOLUME_NAME = 'ai-gateway-extproc-filter-config';
export const FILTER_CONFIG_MOUNT_PATH = '/etc/filter-config';
export const FILTER_CONFIG_KEY = 'filter-config.yaml';
export const ADMIN_PORT = 1064;
export const ADMIN_PORT_NAME = 'aigw-admin';
/** Native sidecars (`initContainers` with `restartPolicy: Always`) are on by default from this minor version. */
export const NATIVE_SIDECAR_MIN_MINOR = 33;

export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_ENVOY_GATEWAY = 'envoy-gateway';
export const OWNING_GATEWAY_NAME_LABEL = 'gateway.envoyproxy.io/owning-gateway-name';
export const OWNING_GATEWAY_NAMESPACE_LABEL = 'gateway.envoyproxy.io/owning-gateway-namespace';
/** `"false"` opts a pod out of injection. */
export const INJECT_ANNOTATION = 'aigw-admission.io/inject';
/** Records what was injected (JSON), so a second pass and the audit can tell. */
export const INJECTED_ANNOTATION = 'aigw-admission.io/injected';

export type EnvValue = string | { valueFrom: Record<string, unknown> };

/** The operator's part of the sidecar, from the config. */
export interface SidecarTemplate {
  image: string;
  imagePullPolicy: 'Always' | 'IfNotPresent' | 'Never';
  logLevel: 'debug' | 'info' | 'warn' | 'error';
  resources: { requests?: Record<string, string>; limits?: Record<string, string> };
  /** Name → literal value or a `valueFrom` reference (secrets are referenced, never copied into the config). */
  env: Record<string, EnvValue>;
}

export interface GatewayRef {
  name: string;
  namespace: string;
}

export type Placement = 'initContainers' | 'containers';

type Container = Record<string, unknown> & { name?: unknown; volumeMounts?: unknown };
type Volume = Record<string, unknown> & { name?: unknown };

/** The Gateway an Envoy Gateway proxy pod serves, from the labels Envoy Gateway puts on it. */
export function owningGateway(pod: KubeObject): GatewayRef | undefined {
  const labels = pod.metadata?.labels ?? {};
  const name = labels[OWNING_GATEWAY_NAME_LABEL];
  const namespace = labels[OWNING_GATEWAY_NAMESPACE_LABEL];
  return name && namespace ? { name, namespace } : undefined;
}

export function isEnvoyGatewayPod(pod: KubeObject): boolean {
  return pod.metadata?.labels?.[MANAGED_BY_LABEL] === MANAGED_BY_ENVOY_GATEWAY;
}

/** Upstream's controller writes the filter config of a Gateway into this Secret, in the proxy's namespace. */
export function filterConfigSecretName(gateway: GatewayRef): string {
  return `${gateway.name}-${gateway.namespace}`;
}

/** AIGatewayRoutes (of the given ones) whose `parentRefs` name the Gateway. */
export function routesAttachedTo(routes: KubeObject[], gateway: GatewayRef): KubeObject[] {
  return routes.filter((route) => attachesTo(route, gateway));
}

export function placementFor(kubernetesMinor: number | undefined): Placement {
  return kubernetesMinor !== undefined && kubernetesMinor >= NATIVE_SIDECAR_MIN_MINOR ? 'initContainers' : 'containers';
}

export function buildExtProcContainer(template: SidecarTemplate, placement: Placement): Record<string, unknown> {
  const container: Record<string, unknown> = {
    name: EXTPROC_CONTAINER_NAME,
    image: template.image,
    imagePullPolicy: template.imagePullPolicy,
    args: [
      '-configPath',
      `${FILTER_CONFIG_MOUNT_PATH}/${FILTER_CONFIG_KEY}`,
      '-logLevel',
      template.logLevel,
      '-extProcAddr',
      `unix://${UDS_MOUNT_PATH}/run.sock`,
      '-adminPort',
      String(ADMIN_PORT),
    ],
  };
  const env = Object.entries(template.env).map(([name, v]) => (typeof v === 'string' ? { name, value: v } : { name, valueFrom: v.valueFrom }));
  if (env.length > 0) container.env = env;
  Object.assign(container, {
    ports: [{ name: ADMIN_PORT_NAME, containerPort: ADMIN_PORT, protocol: 'TCP' }],
    readinessProbe: {
      httpGet: { path: '/health', port: ADMIN_PORT, scheme: 'HTTP' },
      initialDelaySeconds: 2,
      periodSeconds: 10,
      timeoutSeconds: 5,
      successThreshold: 1,
      failureThreshold: 1,
    },
    resources: template.resources,
    securityContext: {
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      privileged: false,
      readOnlyRootFilesystem: true,
      runAsGroup: 65532,
      runAsNonRoot: true,
      runAsUser: 65532,
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: [
      { name: UDS_VOLUME_NAME, mountPath: UDS_MOUNT_PATH },
      { name: FILTER_CONFIG_VOLUME_NAME, mountPath: FILTER_CONFIG_MOUNT_PATH, readOnly: true },
    ],
  });
  // A native sidecar starts before Envoy and stops after it, so Envoy never runs without its ext_proc server.
  if (placement === 'initContainers') container.restartPolicy = 'Always';
  return container;
}

export function udsVolume(): Volume {
  return { name: UDS_VOLUME_NAME, emptyDir: {} };
}

export function filterConfigVolume(gateway: GatewayRef): Volume {
  return { name: FILTER_CONFIG_VOLUME_NAME, secret: { secretName: filterConfigSecretName(gateway) } };
}

export function envoyUdsMount(): Record<string, unknown> {
  return { name: UDS_VOLUME_NAME, mountPath: UDS_MOUNT_PATH };
}

/** Everything injected for one Gateway, built once: the container, the volumes, and the annotation recording them. */
export function injectedSidecar(template: SidecarTemplate, placement: Placement, gateway: GatewayRef): { container: Record<string, unknown>; volumes: Volume[]; digest: string; annotation: string } {
  const container = buildExtProcContainer(template, placement);
  const volumes = [udsVolume(), filterConfigVolume(gateway)];
  // The digest lets the audit tell a pod built from an older template (drift).
  const digest = createHash('sha256').update(JSON.stringify({ container, volumes })).digest('hex').slice(0, 16);
  const annotation = JSON.stringify({ container: EXTPROC_CONTAINER_NAME, placement, image: template.image, gateway: `${gateway.namespace}/${gateway.name}`, template: digest });
  return { container, volumes, digest, annotation };
}

export function templateDigest(template: SidecarTemplate, placement: Placement, gateway: GatewayRef): string {
  return injectedSidecar(template, placement, gateway).digest;
}

export function injectedAnnotationValue(template: SidecarTemplate, placement: Placement, gateway: GatewayRef): string {
  return injectedSidecar(template, placement, gateway).annotation;
}

export interface PodSpecView {
  containers: Container[];
  initContainers: Container[];
  volumes: Volume[];
}

export function podSpecView(pod: KubeObject): PodSpecView {
  const spec = (pod.spec ?? {}) as Record<string, unknown>;
  const arr = (v: unknown) => (Array.isArray(v) ? v.filter((x) => x !== null && typeof x === 'object') : []);
  return { containers: arr(spec.containers), initContainers: arr(spec.initContainers), volumes: arr(spec.volumes) };
}

/** Where the sidecar already is, if it is. */
export function existingSidecar(view: PodSpecView): Placement | undefined {
  if (view.containers.some((c) => c.name === EXTPROC_CONTAINER_NAME)) return 'containers';
  if (view.initContainers.some((c) => c.name === EXTPROC_CONTAINER_NAME)) return 'initContainers';
  return undefined;
}
