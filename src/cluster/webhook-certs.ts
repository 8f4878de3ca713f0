import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { X509Certificate } from 'node:crypto';
import { isIP } from 'node:net';
import { createCertBundle, TLS_FILES } from '../tls/certs.js';
import { keyMatchesCert, type ServingCerts, type ServingCertSource } from '../tls/source.js';
import type { Logger } from '../review/deps.js';
import type { JsonPatchOperation } from '../kube/types.js';

/** A Secret as the certificate manager sees it: values decoded to text. */
export interface SecretState {
  resourceVersion: string;
  data: Record<string, string>;
  annotations: Record<string, string>;
}

export type WebhookConfigKind = 'ValidatingWebhookConfiguration' | 'MutatingWebhookConfiguration';

export interface WebhookConfigRef {
  kind: WebhookConfigKind;
  name: string;
}

export interface WebhookConfigState {
  webhooks: Array<{ name: string; caBundle?: string; failurePolicy?: string }>;
}

/** The API server answered 409: the object exists (create) or changed since it was read (update). */
export class ConflictError extends Error {
  constructor(what: string) {
    super(`${what}: conflict (409)`);
    this.name = 'ConflictError';
  }
}

/** The few API calls the certificate manager makes; RBAC in deploy/rbac.yaml allows exactly these. */
export interface CertClusterClient {
  /** null when the Secret does not exist. */
  getSecret(namespace: string, name: string): Promise<SecretState | null>;
  /** Throws ConflictError when it already exists. */
  createSecret(namespace: string, name: string, data: Record<string, string>, annotations: Record<string, string>): Promise<SecretState>;
  /** Replaces data and annotations if the Secret is still at `resourceVersion`; throws ConflictError otherwise. */
  updateSecret(namespace: string, name: string, resourceVersion: string, data: Record<string, string>, annotations: Record<string, string>): Promise<SecretState>;
  /** null when the configuration does not exist. */
  getWebhookConfiguration(ref: WebhookConfigRef): Promise<WebhookConfigState | null>;
  /** A JSON Patch (RFC 6902) against the configuration. */
  patchWebhookConfiguration(ref: WebhookConfigRef, ops: JsonPatchOperation[]): Promise<void>;
}

/** Data keys of the Secret. tls.crt / tls.key / ca.crt are what `kubernetes.io/tls` and cert-manager use. */
export const SECRET_KEYS = {
  cert: TLS_FILES.cert,
  key: TLS_FILES.key,
  /** Every CA to trust, newest first: the caBundle. */
  bundle: TLS_FILES.ca,
  /** The key of the newest CA (the first of ca.crt). */
  caKey: TLS_FILES.caKey,
  /** A renewed serving pair waiting until the API server trusts its CA. */
  nextCert: 'next.crt',
  nextKey: 'next.key',
} as const;

export const NEXT_ISSUED_AT = 'aigw-admission.io/next-issued-at';

export interface WebhookCertOptions {
  client: CertClusterClient;
  namespace: string;
  service: string;
  secretName: string;
  webhooks: WebhookConfigRef[];
  now: () => Date;
  logger: Logger;
  /** Lifetime of each CA and serving certificate. */
  validityDays?: number;
  /** Renew when this fraction of the serving certificate's lifetime has passed. */
  renewAtFraction?: number;
  /** After the new CA is in every caBundle, wait this long before serving the new certificate (API server caches). */
  propagationDelayMs?: number;
  /** How often the Secret and the caBundles are re-checked. */
  intervalMs?: number;
  /** Also write tls.crt, tls.key, ca.crt here on each change (--tls-dir), for inspection. */
  mirrorDir?: string;
  /**
   * More names the serving certificate must carry besides the Service's DNS names: the --listen IP or host of a
   * webhook registered by URL (the API server checks the URL's host against the certificate).
   */
  extraSans?: string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----(\r?\n)?/g;

/** The certificates of a PEM bundle, each exactly as written (so joining them gives the bundle back). */
export function splitPemCertificates(bundle: string): string[] {
  return bundle.match(PEM_CERT) ?? [];
}

function parse(pem: string): X509Certificate | null {
  try {
    return new X509Certificate(pem);
  } catch {
    return null;
  }
}

const validTo = (c: X509Certificate) => new Date(c.validTo).getTime();
const validFrom = (c: X509Certificate) => new Date(c.validFrom).getTime();

/**
 * Keeps the webhook's CA and serving certificate in a Secret shared by the replicas, the CA in both webhook
 * configurations' caBundle, and the server's certificate current. Every `intervalMs` it re-reads the Secret and the
 * configurations (polling with `get`, which RBAC can limit to the two names; a watch could not be) so a re-apply that
 * wiped caBundle is repaired within one interval.
 *
 * Rotation, with no moment where the API server would distrust what is served:
 * 1. at `renewAtFraction` of the serving certificate's lifetime a new CA and serving pair are made; the new CA joins
 *    the bundle (newest first), the new pair waits in next.crt / next.key;
 * 2. once every caBundle carries the new CA, and `propagationDelayMs` later, the new pair becomes tls.crt / tls.key
 *    and each replica hands it to the server (new handshakes get it, open connections keep theirs);
 * 3. the old CA leaves the bundle when it expires, long after no replica serves its certificate.
 * Each write carries the resourceVersion read, so when both replicas act at once one gets 409, re-reads, and uses the
 * other's result.
 */
export class WebhookCertManager implements ServingCertSource {
  private readonly validityDays: number;
  private readonly renewAtFraction: number;
  private readonly propagationDelayMs: number;
  private readonly intervalMs: number;
  private served: ServingCerts | undefined;
  private onChange: (certs: ServingCerts) => void = () => {};
  private timer: NodeJS.Timeout | undefined;
  /** When this replica first saw the pending CA in every caBundle (in memory: a restart waits again, which is safe). */
  private nextTrustedSince: { ca: string; at: number } | undefined;
  private running: Promise<void> | undefined;

  constructor(private readonly opts: WebhookCertOptions) {
    this.validityDays = opts.validityDays ?? 365;
    this.renewAtFraction = opts.renewAtFraction ?? 2 / 3;
    this.propagationDelayMs = opts.propagationDelayMs ?? 2 * 60_000;
    this.intervalMs = opts.intervalMs ?? 30_000;
  }

  async start(onChange: (certs: ServingCerts) => void): Promise<ServingCerts> {
    await this.reconcile();
    this.onChange = onChange;
    this.timer = setInterval(() => {
      this.reconcile().catch((err: Error) =>
        this.opts.logger.warn({ event: 'certs_reconcile_failed', message: err.message }, 'certificate reconcile failed; retrying at the next interval'),
      );
    }, this.intervalMs);
    this.timer.unref();
    return this.served!;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The certificate this replica serves now. */
  current(): ServingCerts | undefined {
    return this.served;
  }

  /** One pass: settle the Secret, repair the caBundles, promote a pending pair when it is trusted. Serialized. */
  reconcile(): Promise<void> {
    const run = (this.running ?? Promise.resolve()).then(() => this.reconcileOnce());
    this.running = run.catch(() => {});
    return run;
  }

  private async reconcileOnce(): Promise<void> {
    let secret = await this.settleSecret();
    const trusted = await this.syncCaBundles(secret.data[SECRET_KEYS.bundle]!);
    secret = await this.maybePromote(secret, trusted);
    this.serve(secret);
  }

  private get where(): string {
    return `Secret ${this.opts.namespace}/${this.opts.secretName}`;
  }

  /** Read the Secret and bring it to a usable state (create, repair, renew, prune), retrying on conflicts. */
  private async settleSecret(): Promise<SecretState> {
    const { client, namespace, secretName } = this.opts;
    for (let attempt = 0; attempt < 5; attempt++) {
      const secret = await client.getSecret(namespace, secretName);
      try {
        if (!secret) {
          const data = this.newGeneration([]);
          this.opts.logger.info({ event: 'certs_created', secret: this.where }, 'created the webhook CA and serving certificate');
          return await client.createSecret(namespace, secretName, data, {});
        }
        const change = this.plan(secret);
        if (!change) return secret;
        this.opts.logger.info({ event: change.event, secret: this.where, reason: change.reason }, change.reason);
        return await client.updateSecret(namespace, secretName, secret.resourceVersion, change.data, change.annotations);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        // The other replica wrote first: read its result and judge that instead.
        this.opts.logger.info({ event: 'certs_conflict', secret: this.where }, 'another replica changed the certificate Secret; re-reading it');
      }
    }
    throw new Error(`${this.where}: still conflicting after 5 attempts`);
  }

  /** Data for a fresh CA and serving pair; `keepCas` (still valid older CAs) stay in the bundle behind it. */
  private newGeneration(keepCas: string[]): Record<string, string> {
    const b = createCertBundle({
      service: this.opts.service,
      namespace: this.opts.namespace,
      extraSans: this.opts.extraSans,
      now: this.opts.now(),
      caValidityDays: this.validityDays,
      validityDays: this.validityDays,
    });
    return { [SECRET_KEYS.cert]: b.cert, [SECRET_KEYS.key]: b.key, [SECRET_KEYS.bundle]: [b.caCert, ...keepCas].join(''), [SECRET_KEYS.caKey]: b.caKey };
  }

  /** Why the Secret's serving pair cannot be served as it is, or null when it can. */
  private unusable(data: Record<string, string>, now: number): string | null {
    const cert = data[SECRET_KEYS.cert] ? parse(data[SECRET_KEYS.cert]) : null;
    if (!cert || !data[SECRET_KEYS.key]) return 'tls.crt or tls.key is missing or not a certificate';
    if (!keyMatchesCert(data[SECRET_KEYS.cert]!, data[SECRET_KEYS.key]!)) return 'tls.key does not belong to tls.crt';
    if (validTo(cert) <= now) return `tls.crt expired at ${cert.validTo}`;
    const host = `${this.opts.service}.${this.opts.namespace}.svc`;
    if (cert.checkHost(host) === undefined) return `tls.crt does not cover ${host}`;
    for (const extra of this.opts.extraSans ?? []) {
      if ((isIP(extra) ? cert.checkIP(extra) : cert.checkHost(extra)) === undefined) return `tls.crt does not cover ${extra} (the --listen address)`;
    }
    const cas = splitPemCertificates(data[SECRET_KEYS.bundle] ?? '').map(parse);
    if (!cas.some((ca) => ca && cert.checkIssued(ca) && cert.verify(ca.publicKey))) return 'ca.crt does not hold the CA that signed tls.crt';
    return null;
  }

  private plan(secret: SecretState): { data: Record<string, string>; annotations: Record<string, string>; event: string; reason: string } | null {
    const now = this.opts.now().getTime();
    const data = secret.data;
    const bundle = splitPemCertificates(data[SECRET_KEYS.bundle] ?? '');
    const liveCas = bundle.filter((pem) => {
      const ca = parse(pem);
      return ca !== null && validTo(ca) > now;
    });
    const { [NEXT_ISSUED_AT]: _issued, ...otherAnnotations } = secret.annotations;

    const bad = this.unusable(data, now);
    if (bad) {
      return { data: this.newGeneration(liveCas), annotations: otherAnnotations, event: 'certs_replaced', reason: `replacing the webhook certificate: ${bad}` };
    }

    const hasNext = Boolean(data[SECRET_KEYS.nextCert]);
    if (hasNext) {
      const next = parse(data[SECRET_KEYS.nextCert]!);
      if (!next || !keyMatchesCert(data[SECRET_KEYS.nextCert]!, data[SECRET_KEYS.nextKey] ?? '') || validTo(next) <= now) {
        const { [SECRET_KEYS.nextCert]: _c, [SECRET_KEYS.nextKey]: _k, ...rest } = data;
        return { data: rest, annotations: otherAnnotations, event: 'certs_next_dropped', reason: 'dropping an unusable pending certificate' };
      }
    }

    const cert = parse(data[SECRET_KEYS.cert]!)!;
    const renewAt = validFrom(cert) + (validTo(cert) - validFrom(cert)) * this.renewAtFraction;
    if (!hasNext && now >= renewAt) {
      const gen = this.newGeneration(liveCas);
      return {
        data: {
          ...data,
          [SECRET_KEYS.bundle]: gen[SECRET_KEYS.bundle]!,
          [SECRET_KEYS.caKey]: gen[SECRET_KEYS.caKey]!,
          [SECRET_KEYS.nextCert]: gen[SECRET_KEYS.cert]!,
          [SECRET_KEYS.nextKey]: gen[SECRET_KEYS.key]!,
        },
        annotations: { ...otherAnnotations, [NEXT_ISSUED_AT]: new Date(now).toISOString() },
        event: 'certs_renewal_started',
        reason: `renewing the webhook certificate (expires ${cert.validTo}): the new CA joins the caBundle first`,
      };
    }

    if (liveCas.length < bundle.length) {
      return { data: { ...data, [SECRET_KEYS.bundle]: liveCas.join('') }, annotations: secret.annotations, event: 'certs_ca_retired', reason: 'removing expired CAs from the caBundle' };
    }
    return null;
  }

  /**
   * Make every webhook entry's caBundle equal the Secret's ca.crt. Returns true when all configurations exist and now
   * carry it (the condition for serving a certificate signed by the newest CA).
   */
  private async syncCaBundles(bundlePem: string): Promise<boolean> {
    const want = Buffer.from(bundlePem).toString('base64');
    let allTrusted = true;
    for (const ref of this.opts.webhooks) {
      const config = await this.opts.client.getWebhookConfiguration(ref);
      if (!config) {
        allTrusted = false;
        this.opts.logger.warn({ event: 'webhook_configuration_missing', kind: ref.kind, name: ref.name }, `${ref.kind} ${ref.name} not found; its caBundle will be set once it is applied`);
        continue;
      }
      const ops: JsonPatchOperation[] = [];
      config.webhooks.forEach((w, i) => {
        if (w.caBundle === want) return;
        // The test guards against the list having been reordered since it was read.
        ops.push({ op: 'test', path: `/webhooks/${i}/name`, value: w.name }, { op: 'add', path: `/webhooks/${i}/clientConfig/caBundle`, value: want });
      });
      if (ops.length === 0) continue;
      await this.opts.client.patchWebhookConfiguration(ref, ops);
      this.opts.logger.info(
        { event: 'ca_bundle_patched', kind: ref.kind, name: ref.name, webhooks: config.webhooks.filter((w) => w.caBundle !== want).map((w) => w.name) },
        `set caBundle in ${ref.kind} ${ref.name}`,
      );
    }
    return allTrusted;
  }

  private async maybePromote(secret: SecretState, trusted: boolean): Promise<SecretState> {
    const nextCert = secret.data[SECRET_KEYS.nextCert];
    if (!nextCert) {
      this.nextTrustedSince = undefined;
      return secret;
    }
    const now = this.opts.now().getTime();
    if (!trusted) {
      this.nextTrustedSince = undefined;
      return secret;
    }
    if (this.nextTrustedSince?.ca !== nextCert) this.nextTrustedSince = { ca: nextCert, at: now };
    const issuedAt = Date.parse(secret.annotations[NEXT_ISSUED_AT] ?? '') || now;
    if (now < Math.max(issuedAt, this.nextTrustedSince.at) + this.propagationDelayMs) return secret;

    const { [SECRET_KEYS.nextCert]: _c, [SECRET_KEYS.nextKey]: nextKey, ...rest } = secret.data;
    const { [NEXT_ISSUED_AT]: _i, ...annotations } = secret.annotations;
    try {
      const promoted = await this.opts.client.updateSecret(this.opts.namespace, this.opts.secretName, secret.resourceVersion, { ...rest, [SECRET_KEYS.cert]: nextCert, [SECRET_KEYS.key]: nextKey! }, annotations);
      this.opts.logger.info({ event: 'certs_rotated', secret: this.where }, 'serving the renewed certificate; the previous CA stays in the caBundle until it expires');
      return promoted;
    } catch (err) {
      if (!(err instanceof ConflictError)) throw err;
      return (await this.opts.client.getSecret(this.opts.namespace, this.opts.secretName)) ?? secret;
    }
  }

  private serve(secret: SecretState): void {
    const next: ServingCerts = { cert: secret.data[SECRET_KEYS.cert]!, key: secret.data[SECRET_KEYS.key]!, ca: secret.data[SECRET_KEYS.bundle]! };
    if (this.served && this.served.cert === next.cert && this.served.key === next.key && this.served.ca === next.ca) return;
    const changedPair = !this.served || this.served.cert !== next.cert;
    this.served = next;
    if (this.opts.mirrorDir) {
      mkdirSync(this.opts.mirrorDir, { recursive: true });
      writeFileSync(join(this.opts.mirrorDir, TLS_FILES.cert), next.cert);
      writeFileSync(join(this.opts.mirrorDir, TLS_FILES.key), next.key, { mode: 0o600 });
      writeFileSync(join(this.opts.mirrorDir, TLS_FILES.ca), next.ca);
    }
    if (changedPair) this.onChange(next);
  }
}
