import { relative } from 'node:path';
import { hostname } from 'node:os';
import { ConfigHolder } from '../config/holder.js';
import { DEPLOY_NAMES, failurePolicyWhenReady } from '../deploy/webhook-rules.js';
import { AdmissionError } from '../review/errors.js';
import type { TlsMinVersion } from '../server/server.js';
import type { Command } from 'commander';
import { examples, readInput, parseSeconds, parseListen, loadKubeConfig, fail } from './common.js';

interface ServeFlags {
  keepIgnore?: string[];
  standalone?: boolean;
  kubeconfig?: string;
  listen?: string;
  tlsDir: string;
  config?: string;
  manageCerts?: boolean;
  enforceFailurePolicy?: boolean;
  namespace?: string;
  service: string;
  certSecret: string;
  webhookConfiguration: string;
  clientCa?: string;
  shutdownDelay?: string;
  probeListen?: string;
  tlsMinVersion?: string;
  handshakeTimeout?: string;
  firstRequestTimeout?: string;
  certCheckInterval?: string;
}

const TLS_MIN_VERSIONS: Readonly<Record<string, TlsMinVersion>> = { '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('serve POST /validate and /mutate over HTTPS')
    .option('--standalone', 'no cluster: listen on 127.0.0.1:8443 and use only the objects given')
    .option('--kubeconfig <file>', 'kubeconfig to find the cluster with (default: like kubectl)')
    .option('--listen <host:port>', 'address to listen on (default 0.0.0.0:8443, standalone 127.0.0.1:8443)')
    .option('--tls-dir <dir>', 'directory with tls.crt, tls.key and ca.crt; created when absent', 'certs')
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .option('--manage-certs', 'keep the CA and serving certificate in a Secret, in the webhook configurations\' caBundle, and rotated (default in cluster mode)')
    .option('--no-manage-certs', 'serve the certificate in --tls-dir as it is (cert-manager), re-reading it when renewed')
    .option('--namespace <ns>', 'namespace of the webhook\'s Service and Secret (default: $POD_NAMESPACE, else aigw-admission)')
    .option('--service <name>', 'Service name the certificate is made for', DEPLOY_NAMES.service)
    .option('--cert-secret <name>', 'Secret holding the certificates with --manage-certs', DEPLOY_NAMES.certSecret)
    .option('--no-enforce-failure-policy', 'leave the webhook entries\' failurePolicy as installed (default: once ready, raise the validating and pod entries from Ignore to Fail)')
    .option('--keep-ignore <entry...>', 'webhook entries a ready replica leaves at failurePolicy Ignore (e.g. gateway.validate.aigw-admission.io once the ValidatingAdmissionPolicies of deploy/overlays/vap are installed)')
    .option('--shutdown-delay <seconds>', 'on SIGTERM, keep serving this long with readiness false before closing (default 5 in a cluster, 0 standalone)')
    .option('--cert-check-interval <seconds>', 'with --manage-certs, how often the Secret and the caBundles are checked and repaired (default 30)')
    .option('--client-ca <file>', "require a client certificate signed by this CA (the API server's, from --admission-control-config-file); others are refused at the TLS handshake")
    .option('--probe-listen <host:port|off>', 'plain-HTTP /healthz, /readyz and /metrics, not covered by --client-ca (default 0.0.0.0:8080 in a cluster, off standalone)')
    .option('--tls-min-version <1.2|1.3>', 'lowest TLS version accepted (TLS 1.2 only with ECDHE and AEAD ciphers)', '1.2')
    .option('--handshake-timeout <seconds>', 'close a connection whose TLS handshake has not finished by then', '5')
    .option('--first-request-timeout <seconds>', 'close a connection that sends no request this long after its handshake', '5')
    .option('--webhook-configuration <name>', 'name of the Validating- and MutatingWebhookConfiguration to put the caBundle in', DEPLOY_NAMES.webhookConfiguration)
    .addHelpText('after', examples('aigw-admission serve --standalone --listen 127.0.0.1:8443 --tls-dir certs/', 'aigw-admission serve --config /etc/aigw-admission/config.yaml'))
    .action(async (o: ServeFlags) => {
      try {
        const { host, port } = parseListen(o.listen ?? (o.standalone ? '127.0.0.1:8443' : '0.0.0.0:8443'));
        const probeListen = o.probeListen ?? (o.standalone ? 'off' : '0.0.0.0:8080');
        const probe = probeListen === 'off' ? undefined : parseListen(probeListen, '--probe-listen');
        const minTlsVersion = TLS_MIN_VERSIONS[o.tlsMinVersion ?? '1.2'];
        if (!minTlsVersion) throw new AdmissionError('INVALID_FLAG', `--tls-min-version ${o.tlsMinVersion}: expected 1.2 or 1.3`);
        const handshakeTimeoutMs = parseSeconds('--handshake-timeout', o.handshakeTimeout ?? '5');
        const firstRequestTimeoutMs = parseSeconds('--first-request-timeout', o.firstRequestTimeout ?? '5');
        const kc = o.standalone ? undefined : await loadKubeConfig(o.kubeconfig, 'use --standalone to run without a cluster');
        // Loaded here, not with the CLI: express, prom-client, pino and node-forge are a third of a second that every
        // other verb (a pre-commit check) would pay at start.
        const [{ startServer }, { WebhookCertManager }, { createLogger }] = await Promise.all([
          import('../server/serve.js'),
          import('../cluster/webhook-certs.js'),
          import('../observe/logger.js'),
        ]);
        const logger = createLogger();
        // Whatever ends the process (a crash included), the lines still batched are written synchronously first.
        process.once('exit', () => logger.flush());
        const namespace = o.namespace ?? process.env.POD_NAMESPACE ?? DEPLOY_NAMES.namespace;
        const clusterClient = kc ? (await import('../cluster/kube-cert-client.js')).kubeCertClient(kc) : undefined;
        const certClient = o.manageCerts ?? true ? clusterClient : undefined;
        const webhookConfigurations = [
          { kind: 'ValidatingWebhookConfiguration' as const, name: o.webhookConfiguration },
          { kind: 'MutatingWebhookConfiguration' as const, name: o.webhookConfiguration },
        ];
        const certs =
          certClient
            ? new WebhookCertManager({
                client: certClient,
                namespace,
                service: o.service,
                secretName: o.certSecret,
                webhooks: webhookConfigurations,
                now: () => new Date(),
                logger,
                mirrorDir: o.tlsDir,
                intervalMs: o.certCheckInterval === undefined ? undefined : Math.max(1000, parseSeconds('--cert-check-interval', o.certCheckInterval)),
                // Registered by URL (a workstation, or a webhook outside the cluster): the API server checks the URL's host.
                extraSans: host === '0.0.0.0' || host === '::' ? [] : [host],
              })
            : undefined;
        const running = await startServer({
          host,
          port,
          probe,
          minTlsVersion,
          handshakeTimeoutMs,
          firstRequestTimeoutMs,
          tlsDir: o.tlsDir,
          configPath: ConfigHolder.resolvePath(o.config),
          standalone: Boolean(o.standalone),
          service: o.service,
          namespace,
          logger,
          certs,
          failurePolicy:
            clusterClient && o.enforceFailurePolicy !== false
              ? { client: clusterClient, webhooks: webhookConfigurations, wanted: failurePolicyWhenReady(o.keepIgnore ?? []) }
              : undefined,
          clientCa: o.clientCa === undefined ? undefined : readInput(o.clientCa),
          shutdownDelayMs: o.shutdownDelay === undefined ? undefined : parseSeconds('--shutdown-delay', o.shutdownDelay),
          kubeConfig: kc,
          // In a pod the hostname is the pod name; the Deployment may pass it explicitly through the downward API.
          podName: process.env.POD_NAME || hostname(),
        });
        const rel = relative(process.cwd(), running.caPath);
        const caPath = rel && !rel.startsWith('..') ? rel : running.caPath;
        const sample = 'test/fixtures/admission-reviews/aigatewayroute-stream-idle-too-long.json';
        process.stderr.write(
          [
            `aigw-admission listening on ${running.url} (${o.standalone ? 'standalone, no cluster' : 'cluster mode'})`,
            ...(running.probeUrl ? [`probes and metrics on ${running.probeUrl} (/healthz, /readyz, /metrics)`] : []),
            `CA certificate: ${caPath}`,
            `Try it:`,
            `  curl --cacert ${caPath} -H 'Content-Type: application/json' --data @${sample} ${running.url}/validate`,
            `  (or any body from ../shared/fixtures/admission-reviews/)`,
            '',
          ].join('\n'),
        );
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ event: 'shutdown', signal, inFlight: running.webhook.inFlight() }, 'shutting down: finishing in-flight reviews');
          void running.close().then(() => {
            logger.info({ event: 'stopped' }, 'stopped');
            (logger as { flush?: () => void }).flush?.();
            process.exit(0);
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      } catch (err) {
        fail(err);
      }
    });
}
