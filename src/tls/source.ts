import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { loadOrCreateServingCerts, TLS_FILES, type CertOptions } from './certs.js';
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
 * Certificates from a directory (`--tls-dir`), created when absent, re-read every `intervalMs`. A Secret volume
 * written by cert-manager is updated by the kubelet through an atomic symlink swap, which file watchers miss, so the
 * files are polled; a half-updated pair (key not matching the certificate) is skipped until the next poll.
 */
export function tlsDirSource(dir: string, create: CertOptions, logger: Logger, intervalMs = 30_000): ServingCertSource & { poll(): void } {
  let timer: NodeJS.Timeout | undefined;
  let current: ServingCerts | undefined;
  let onChange: (certs: ServingCerts) => void = () => {};
  const source = {
    async start(listener: (certs: ServingCerts) => void) {
      const first = loadOrCreateServingCerts(dir, create);
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
      if (!keyMatchesCert(next.cert, next.key)) return;
      current = next;
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
