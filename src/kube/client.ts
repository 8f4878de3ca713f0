/**
 * The one door to @kubernetes/client-node (about 70 MB of generated API code). Only this file imports the package;
 * the modules that import it are loaded with `await import()` on the way to a cluster, so `serve --standalone`,
 * `review`, `check` without a cluster and `certs` never load it (test/architecture.test.ts checks both).
 */
export {
  AdmissionregistrationV1Api,
  ApiException,
  CoreV1Api,
  CustomObjectsApi,
  EventsV1Api,
  KubeConfig,
  PatchStrategy,
  V1MicroTime,
  VersionApi,
  Watch,
  setHeaderOptions,
} from '@kubernetes/client-node';
export type { EventsV1Event, V1Secret } from '@kubernetes/client-node';
