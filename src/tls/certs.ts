import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

export interface CertBundle {
  /** PEM */
  caCert: string;
  caKey: string;
  cert: string;
  key: string;
}

/** File names of a `kubernetes.io/tls` Secret plus cert-manager's `ca.crt`. */
export const TLS_FILES = { cert: 'tls.crt', key: 'tls.key', ca: 'ca.crt', caKey: 'ca.key' } as const;

export interface CertOptions {
  service: string;
  namespace: string;
  /** Extra SANs: DNS names or IP addresses. */
  extraSans?: string[];
  now?: Date;
  caValidityDays?: number;
  validityDays?: number;
}

/** The DNS names the API server may use for `<service>.<namespace>.svc`. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.cluster.local`];
}


function serial(): string {
  // Positive 16-byte serial: clear the top bit.
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f;
  return b.toString('hex');
}

function keyPair(): forge.pki.rsa.KeyPair {
  // node-forge uses Node's native RSA key generation when it is available.
  return forge.pki.rsa.generateKeyPair({ bits: 2048, e: 0x10001 });
}

function validity(cert: forge.pki.Certificate, now: Date, days: number): void {
  cert.validity.notBefore = new Date(now.getTime() - 5 * 60_000); // tolerate clock skew
  cert.validity.notAfter = new Date(now.getTime() + days * 86_400_000);
}

export function createCertBundle(opts: CertOptions): CertBundle {
  const now = opts.now ?? new Date();
  const caKeys = keyPair();
  const ca = forge.pki.createCertificate();
  ca.publicKey = caKeys.publicKey;
  ca.serialNumber = serial();
  validity(ca, now, opts.caValidityDays ?? 3650);
  const caAttrs = [{ name: 'commonName', value: `aigw-admission-ca ${opts.service}.${opts.namespace}` }];
  ca.setSubject(caAttrs);
  ca.setIssuer(caAttrs);
  ca.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  ca.sign(caKeys.privateKey, forge.md.sha256.create());

  const keys = keyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  validity(cert, now, opts.validityDays ?? 365);
  const names = [...serviceDnsNames(opts.service, opts.namespace), ...(opts.extraSans ?? [])];
  cert.setSubject([{ name: 'commonName', value: `${opts.service}.${opts.namespace}.svc` }]);
  cert.setIssuer(caAttrs);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    { name: 'subjectAltName', altNames: names.map((n) => (isIP(n) !== 0 ? { type: 7, ip: n } : { type: 2, value: n })) },
    { name: 'authorityKeyIdentifier', keyIdentifier: ca.generateSubjectKeyIdentifier().getBytes() },
  ]);
  cert.sign(caKeys.privateKey, forge.md.sha256.create());

  return {
    caCert: forge.pki.certificateToPem(ca),
    caKey: forge.pki.privateKeyToPem(caKeys.privateKey),
    cert: forge.pki.certificateToPem(cert),
    key: forge.pki.privateKeyToPem(keys.privateKey),
  };
}

export function writeCertBundle(dir: string, bundle: CertBundle): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, TLS_FILES.ca), bundle.caCert);
  writeFileSync(join(dir, TLS_FILES.caKey), bundle.caKey, { mode: 0o600 });
  writeFileSync(join(dir, TLS_FILES.cert), bundle.cert);
  writeFileSync(join(dir, TLS_FILES.key), bundle.key, { mode: 0o600 });
}

export interface ServingFiles {
  cert: string;
  key: string;
  ca: string;
  created: boolean;
}

/** Read `tls.crt`, `tls.key`, `ca.crt` from `dir`, creating all of them when the serving pair is absent. */
export function loadOrCreateServingCerts(dir: string, opts: CertOptions): ServingFiles {
  const p = (f: string) => join(dir, f);
  const present = existsSync(p(TLS_FILES.cert)) && existsSync(p(TLS_FILES.key));
  if (!present) writeCertBundle(dir, createCertBundle(opts));
  return {
    cert: readFileSync(p(TLS_FILES.cert), 'utf8'),
    key: readFileSync(p(TLS_FILES.key), 'utf8'),
    ca: existsSync(p(TLS_FILES.ca)) ? readFileSync(p(TLS_FILES.ca), 'utf8') : '',
    created: !present,
  };
}

/** The subjectAltName entries of a PEM certificate (DNS names and IPs), for checks and messages. */
export function certificateSans(pem: string): string[] {
  const cert = forge.pki.certificateFromPem(pem);
  const ext = cert.getExtension('subjectAltName') as { altNames?: Array<{ type: number; value?: string; ip?: string }> } | null;
  return (ext?.altNames ?? []).map((a) => (a.type === 7 ? a.ip! : a.value!));
}

export function caBundleBase64(caPem: string): string {
  return Buffer.from(caPem).toString('base64');
}
