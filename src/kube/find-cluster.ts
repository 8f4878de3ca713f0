/** Finds the cluster the way kubectl does. Only doors import this, and lazily: it loads @kubernetes/client-node. */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfig } from './client.js';

const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * The cluster as kubectl finds it, or undefined when there is none. (KubeConfig.loadFromDefault alone would fall back to
 * an unauthenticated http://localhost:8080, which is never what a user means.)
 */
export function findCluster(file: string | undefined, env: NodeJS.ProcessEnv, home: string | undefined): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else if (env.KUBECONFIG || (home && existsSync(join(home, '.kube', 'config'))) || existsSync(SERVICE_ACCOUNT_TOKEN)) kc.loadFromDefault();
  else return undefined;
  return kc.getCurrentCluster() ? kc : undefined;
}
