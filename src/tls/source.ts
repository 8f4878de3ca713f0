import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { loadOrCreateServingCerts, TLS_FILES, type CertOptions } from './certs.js';
import { AdmissionError } from '../review/errors.js';
import type { Logger } from '../review/deps.js';

/** What the server serves: the certificate chain and key, and the CA bundle clients are told to trust. */
export interface ServingCerts {
  cert: string;
  key: string;
  ca: string;
}

/** Where the serving certificate comes from, and how a renewed one reaches the server without a restart. */
export interface ServingCertSource {
  /** Resolves with the certificate to serve first; `onChange` is called with each later one. */
  start(onChange: (certs: ServingCerts) => void): Promise<ServingCerts>;
  stop(): void;
}

/** True when `key` is the private key of the leaf certificate in `cert`. */
export function keyMatchesCert(cert: string, key: string): boolean {
  try {
    return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key));
  } catch {
    return false;
  }
}

/**
 * Why a serving pair cannot be served, or null when it can: the certificate and the key parse, belong together, are
 * valid at `now`, and the certificate covers every name in `names` (the name the API server calls).
 */
export function servingCertProblem(pair: { cert: string; key: string }, names: readonly string[], now: Date): string | null {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(pair.cert);
  } catch {
    return `${TLS_FILES.cert} is not a PEM certificate`;
  }
  try {
    createPrivateKey(pair.key);
  } catch {
    return `${TLS_FILES.key} is not a PEM private key`;
  }
  if (!keyMatchesCert(pair.cert, pair.key)) return `${TLS_FILES.key} does not belong to ${TLS_FILES.cert}`;
  if (new Date(cert.validTo).getTime() <= now.getTime()) return `${TLS_FILES.cert} expired at ${new Date(cert.validTo).toISOString()}`;
  if (new Date(cert.validFrom).getTime() > now.getTime()) return `${TLS_FILES.cert} is not valid before ${new Date(cert.validFrom).toISOString()}`;
  const missing = names.filter((n) => cert.checkHost(n) === undefined);
  if (missing.length > 0) return `${TLS_FILES.cert} does not cover ${missing.join(', ')} (its names: ${cert.subjectAltName ?? 'none'})`;
  return null;
}

export interface TlsDirChecks {
  /** Clock for the validity check (default: the system clock). */
  now?: () => Date;
  /** Told of each reload: applied, or skipped because the new files failed the checks. */
  onReload?: (result: 'applied' | 'skipped') => void;
}

/**
 * Certificates from a directory (`--tls-dir`), created when absent, re-read every `intervalMs`. A Secret volume
 * written by cert-manager is updated by the kubelet through an atomic symlink swap, which file watchers miss, so the
 * files are polled. The pair is checked at start (a bad one refuses to start, exit 78) and on every change: a pair
 * that fails the checks (half-updated, garbage, expired, other names) is skipped, logged and counted once, and the
 * previous one stays served until a good one appears.
 */
export function tlsDirSource(dir: string, create: CertOptions, logger: Logger, intervalMs = 30_000, checks: TlsDirChecks = {}): ServingCertSource & { poll(): void } {
  let timer: NodeJS.Timeout | undefined;
  let current: ServingCerts | undefined;
  let skipped: ServingCerts | undefined;
  let onChange: (certs: ServingCerts) => void = () => {};
  const now = checks.now ?? (() => new Date());
  const names = [`${create.service}.${create.namespace}.svc`];
  const source = {
    async start(listener: (certs: ServingCerts) => void) {
      const first = loadOrCreateServingCerts(dir, create);
      const problem = servingCertProblem(first, names, now());
      if (problem) {
        throw new AdmissionError('INVALID_CERTIFICATE', `${dir}: ${problem}; replace ${TLS_FILES.cert} and ${TLS_FILES.key} (or remove both to have new ones created)`);
      }
      if (first.created) logger.info({ event: 'certs_created', dir }, 'created a CA and a serving certificate');
      current = { cert: first.cert, key: first.key, ca: first.ca };
      onChange = listener;
      timer = setInterval(() => source.poll(), intervalMs);
      timer.unref();
      return current;
    },
    /** Re-read the files now; calls the listener when a new, consistent pair is there. */
    poll() {
      if (!current) return;
      let next: ServingCerts;
      try {
        const read = (f: string) => readFileSync(join(dir, f), 'utf8');
        next = { cert: read(TLS_FILES.cert), key: read(TLS_FILES.key), ca: safeRead(join(dir, TLS_FILES.ca)) };
      } catch (err) {
        logger.warn({ event: 'certs_reload_failed', dir, message: (err as Error).message }, 'could not re-read the certificate files; serving the previous ones');
        return;
      }
      if (next.cert === current.cert && next.key === current.key) return;
      if (skipped && next.cert === skipped.cert && next.key === skipped.key) return; // already logged and counted
      const problem = servingCertProblem(next, names, now());
      if (problem) {
        skipped = next;
        checks.onReload?.('skipped');
        logger.warn({ event: 'certs_reload_skipped', dir, reason: problem }, 'the changed certificate files failed the checks; serving the previous ones');
        return;
      }
      skipped = undefined;
      current = next;
      checks.onReload?.('applied');
      logger.info({ event: 'certs_reloaded', dir }, 'serving a renewed certificate');
      onChange(next);
    },
    stop() {
      if (timer) clearInterval(timer);
    },
  };
  return source;
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
