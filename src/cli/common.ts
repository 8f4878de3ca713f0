/** What every verb shares: exit codes, reading an input file, parsing flags, finding the cluster, failing cleanly. */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import type { KubeConfig } from '../kube/client.js';
import { AdmissionError } from '../review/errors.js';
import { describeFsError } from '../input/manifests.js';

/** Exit codes; 69, 73 and 78 are start-up failures of `serve` (src/review/errors.ts), 70 a bug. */
export const EXIT = { ok: 0, denied: 1, badInput: 2, listenFailed: 69, internal: 70, tlsDirUnwritable: 73, invalidCertificate: 78 } as const;

export function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new AdmissionError('INVALID_INPUT_FILE', `${file === '-' ? '<stdin>' : file}: ${describeFsError(err)}`);
  }
}

/** A bad flag value or combination: exit 2, naming the flag and the fix. */
export function usageError(detail: string): AdmissionError {
  return new AdmissionError('INVALID_FLAG', detail);
}

/**
 * Where parsed CRD bundles and compiled CRD validators are kept between runs: $XDG_CACHE_HOME/aigw-admission, else
 * ~/.cache/aigw-admission; undefined when AIGW_ADMISSION_CACHE=off turns the cache off.
 */
export async function userCacheDir(): Promise<string | undefined> {
  if (process.env.AIGW_ADMISSION_CACHE === 'off') return undefined;
  const { join } = await import('node:path');
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'aigw-admission');
}

export async function userParseCache(): Promise<import('../input/parse-cache.js').ParseCache | undefined> {
  const dir = await userCacheDir();
  return dir === undefined ? undefined : (await import('../input/parse-cache.js')).diskParseCache(dir);
}

export async function userValidatorCache(): Promise<import('../crd/validator-cache.js').ValidatorCache | undefined> {
  const dir = await userCacheDir();
  return dir === undefined ? undefined : (await import('../crd/validator-cache.js')).diskValidatorCache(dir);
}

/** The `Examples:` block every verb's --help ends with. */
export function examples(...lines: string[]): string {
  return `\nExamples:\n${lines.map((l) => `  ${l}`).join('\n')}\n`;
}

export function parseSeconds(flag: string, value: string): number {
  if (!/^\d{1,3}(\.\d+)?$/.test(value)) throw new AdmissionError('INVALID_FLAG', `${flag} ${value}: expected seconds, e.g. 5`);
  return Math.round(Number(value) * 1000);
}

export function parseListen(value: string, flag = '--listen'): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new AdmissionError('INVALID_FLAG', `${flag} ${value}: expected HOST:PORT, e.g. ${flag === '--listen' ? '0.0.0.0:8443' : '0.0.0.0:8080'}`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Finds the cluster like kubectl: --kubeconfig, then KUBECONFIG / ~/.kube/config, then in-cluster. The client (and every
 * module that needs it) is imported only on the way to a cluster: it holds about 70 MB of generated API code that
 * serve --standalone, review, check and certs never use.
 */
export async function findKubeConfig(file: string | undefined): Promise<KubeConfig | undefined> {
  const { findCluster } = await import('../kube/find-cluster.js');
  try {
    return findCluster(file, process.env, homedir());
  } catch (err) {
    const source = file ? `--kubeconfig ${file}` : `KUBECONFIG ${process.env.KUBECONFIG ?? '~/.kube/config'}`;
    throw new AdmissionError('INVALID_CONFIG', `${source}: cannot be read: ${describeFsError(err)}`);
  }
}

/** `otherwise`: what the verb can do without a cluster, if anything (serve: --standalone). */
export async function loadKubeConfig(file: string | undefined, otherwise?: string): Promise<KubeConfig> {
  const kc = await findKubeConfig(file);
  if (!kc) {
    throw new AdmissionError(
      'INVALID_CONFIG',
      `no Kubernetes cluster found: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod${otherwise ? `; ${otherwise}` : ''}`,
    );
  }
  return kc;
}

export function fail(err: unknown): never {
  if (err instanceof AdmissionError && err.isUserError) {
    process.stderr.write(`aigw-admission: ${err.message}\n`);
    process.exit(EXIT.badInput);
  }
  if (err instanceof AdmissionError && err.exitCode !== undefined) {
    process.stderr.write(`aigw-admission: ${err.message}\n`);
    process.exit(err.exitCode);
  }
  process.stderr.write(`aigw-admission: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(EXIT.internal);
}
