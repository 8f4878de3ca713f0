#!/usr/bin/env node
/** Composition root: the only place that reads flags, env and files, and wires them into the core. */
import { readFileSync } from 'node:fs';
import { relative } from 'node:path';
import { homedir, hostname } from 'node:os';
import { Command, Option } from 'commander';
import type { KubeConfig } from '@kubernetes/client-node';
import { ALL_POLICIES } from '../policies/index.js';
import { ConfigHolder } from './runtime.js';
import { startServer } from './serve.js';
import { WebhookCertManager } from './cluster/webhook-certs.js';
import { DEPLOY_NAMES } from './deploy/webhook-rules.js';
import { createCertBundle, writeCertBundle, caBundleBase64 } from './tls/certs.js';
import { parseAdmissionReview } from './review/parse.js';
import { review } from './review/review.js';
import { AdmissionError } from './review/errors.js';
import { MemoryWorld, parseKubernetesMinor } from './world/world.js';
import { createLogger } from './observe/logger.js';
import { silentLogger } from './review/deps.js';
import { readManifests } from './manifests.js';
import { injectPods } from './inject.js';
import { checkObjects, formatFindingsTable, specFindings, summarize } from './check.js';
import { CrdSchemas } from './crd/schemas.js';
import { stringify as toYaml } from 'yaml';
import { explain, renderText, worldOf } from './explain.js';
import { progressLine } from './audit/progress.js';
import { registerVap } from './cli/vap.js';

const EXIT = { ok: 0, denied: 1, badInput: 2 } as const;

function readInput(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw new AdmissionError('INVALID_INPUT_FILE', `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

function parseSeconds(flag: string, value: string): number {
  if (!/^\d{1,3}(\.\d+)?$/.test(value)) throw new AdmissionError('INVALID_INPUT_FILE', `${flag} ${value}: expected seconds, e.g. 5`);
  return Math.round(Number(value) * 1000);
}

function parseListen(value: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(value);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port > 65535) throw new AdmissionError('INVALID_INPUT_FILE', `--listen ${value}: expected HOST:PORT, e.g. 0.0.0.0:8443`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/**
 * Finds the cluster like kubectl: --kubeconfig, then KUBECONFIG / ~/.kube/config, then in-cluster. The client (and every
 * module that needs it) is imported only on the way to a cluster: it holds about 70 MB of generated API code that
 * serve --standalone, review, check and certs never use.
 */
async function findKubeConfig(file: string | undefined): Promise<KubeConfig | undefined> {
  const { findCluster } = await import('./explain-cluster.js');
  try {
    return findCluster(file, process.env, homedir());
  } catch (err) {
    const source = file ? `--kubeconfig ${file}` : `KUBECONFIG ${process.env.KUBECONFIG ?? '~/.kube/config'}`;
    throw new AdmissionError('INVALID_CONFIG', `${source}: cannot be read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

async function loadKubeConfig(file: string | undefined): Promise<KubeConfig> {
  const kc = await findKubeConfig(file);
  if (!kc) {
    throw new AdmissionError(
      'INVALID_CONFIG',
      'no Kubernetes cluster found: pass --kubeconfig FILE, set KUBECONFIG, or run in a pod; use --standalone to run without a cluster',
    );
  }
  return kc;
}

function fail(err: unknown): never {
  if (err instanceof AdmissionError && err.isUserError) {
    process.stderr.write(`aigw-admission: ${err.message}\n`);
    process.exit(EXIT.badInput);
  }
  process.stderr.write(`aigw-admission: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
  process.exit(70);
}

interface ServeFlags {
  standalone?: boolean;
  kubeconfig?: string;
  listen?: string;
  tlsDir: string;
  config?: string;
  manageCerts?: boolean;
  namespace?: string;
  service: string;
  certSecret: string;
  webhookConfiguration: string;
  clientCa?: string;
  shutdownDelay?: string;
}

export function buildProgram(): Command {
  const program = new Command('aigw-admission')
    .description('Policy-as-code admission webhook for Envoy AI Gateway')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.badInput));

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
    .option('--shutdown-delay <seconds>', 'on SIGTERM, keep serving this long with readiness false before closing (default 5 in a cluster, 0 standalone)')
    .option('--client-ca <file>', "require a client certificate signed by this CA (the API server's, from --admission-control-config-file); others are refused at the TLS handshake")
    .option('--webhook-configuration <name>', 'name of the Validating- and MutatingWebhookConfiguration to put the caBundle in', DEPLOY_NAMES.webhookConfiguration)
    .action(async (o: ServeFlags) => {
      try {
        const { host, port } = parseListen(o.listen ?? (o.standalone ? '127.0.0.1:8443' : '0.0.0.0:8443'));
        const kc = o.standalone ? undefined : await loadKubeConfig(o.kubeconfig);
        const logger = createLogger();
        const namespace = o.namespace ?? process.env.POD_NAMESPACE ?? DEPLOY_NAMES.namespace;
        const certClient =
          kc && (o.manageCerts ?? true) ? (await import('./cluster/kube-cert-client.js')).kubeCertClient(kc) : undefined;
        const certs =
          certClient
            ? new WebhookCertManager({
                client: certClient,
                namespace,
                service: o.service,
                secretName: o.certSecret,
                webhooks: [
                  { kind: 'ValidatingWebhookConfiguration', name: o.webhookConfiguration },
                  { kind: 'MutatingWebhookConfiguration', name: o.webhookConfiguration },
                ],
                now: () => new Date(),
                logger,
                mirrorDir: o.tlsDir,
              })
            : undefined;
        const running = await startServer({
          host,
          port,
          tlsDir: o.tlsDir,
          configPath: ConfigHolder.resolvePath(o.config),
          standalone: Boolean(o.standalone),
          service: o.service,
          namespace,
          logger,
          certs,
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

  program
    .command('review')
    .description('review one AdmissionReview file; exit 0 allowed, 1 denied, 2 bad input')
    .requiredOption('-f, --file <file>', 'AdmissionReview JSON (- for stdin)')
    .addOption(new Option('--mutate', 'run the mutating policies').conflicts('validate'))
    .addOption(new Option('--validate', 'run the validating policies (default)').conflicts('mutate'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action((o: { file: string; mutate?: boolean; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const input = parseAdmissionReview(readInput(o.file));
        const world = new MemoryWorld([], { kubernetesMinor: holder.config.kubernetesMinor });
        const { review: out } = review(input, o.mutate ? 'mutate' : 'validate', {
          policies: holder.policies,
          world,
          now: () => new Date(),
          logger: silentLogger,
        });
        process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        process.exitCode = out.response.allowed ? EXIT.ok : EXIT.denied;
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('check')
    .description('check manifests offline with every validating policy and, given CRDs, their schemas and rules; exit 1 when a finding is at mode deny')
    .requiredOption('-f, --file <file...>', 'manifests (YAML or JSON, multi-document, kind: List, directories, - for stdin); together they are the whole world for cross-references')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--crds <dir...>', 'CustomResourceDefinitions to validate against (files or directories, as kubectl get crd -o yaml writes them)')
    .option('--kubeconfig <file>', 'without --crds, read the CRDs from this cluster (default: the cluster kubectl would use, if any)')
    .option('--offline', 'never contact a cluster, even to read CRDs')
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action(async (o: { file: string[]; output: 'table' | 'json' | 'yaml'; crds?: string[]; kubeconfig?: string; offline?: boolean; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const manifests = readManifests(o.file);
        let crdObjects = [...(o.crds ? readManifests(o.crds) : []), ...manifests].map((m) => m.object).filter((x) => x.kind === 'CustomResourceDefinition');
        if (crdObjects.length === 0 && !o.offline) {
          // The installed CRDs are the schema the API server will apply: read them when there is a cluster.
          const kc = await findKubeConfig(o.kubeconfig);
          if (kc) {
            const { makePageLister } = await import('./world/list-page.js');
            const { clusterCrds } = await import('./crd/cluster.js');
            const server = kc.getCurrentCluster()?.server;
            try {
              crdObjects = await clusterCrds(makePageLister(kc));
              process.stderr.write(`note: ${crdObjects.length} CRDs read from the cluster at ${server}\n`);
            } catch (err) {
              const { describeApiError } = await import('./world/cluster-world.js');
              process.stderr.write(`note: could not read the CRDs from the cluster at ${server} (${describeApiError(err)}); pass --crds DIR or --offline\n`);
            }
          }
        }
        const crds = crdObjects.length > 0 ? new CrdSchemas(crdObjects) : undefined;
        if (!crds) process.stderr.write('note: no CRDs given (--crds DIR) or read from a cluster: objects are not checked against their CRD schema and rules\n');
        const result = checkObjects(manifests, {
          policies: holder.policies,
          crds,
          kubernetesMinor: holder.config.kubernetesMinor,
          now: () => new Date(),
        });
        for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
        if (o.output === 'json') process.stdout.write(`${JSON.stringify(specFindings(result.findings), null, 2)}\n`);
        else if (o.output === 'yaml') process.stdout.write(toYaml(specFindings(result.findings), { lineWidth: 0, aliasDuplicateObjects: false }));
        else if (result.findings.length > 0) {
          process.stdout.write(formatFindingsTable(result.findings, process.stdout.isTTY ? process.stdout.columns : undefined));
        }
        if (o.output === 'table') process.stderr.write(`${summarize(result)}\n`);
        process.exitCode = result.findings.some((f) => f.mode === 'deny') ? EXIT.denied : EXIT.ok;
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('audit')
    .description('evaluate the objects in the cluster and the ext_proc sidecar of its Envoy proxies; exit 1 when a finding is at mode deny')
    .option('--kubeconfig <file>', 'kubeconfig to find the cluster with (default: like kubectl)')
    .option('--namespace <ns>', "only this namespace's objects (and the proxy pods of its Gateways)")
    .option('--write-reports', 'write one wgpolicyk8s.io/v1alpha2 PolicyReport per namespace, updated in place')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action(async (o: { kubeconfig?: string; namespace?: string; writeReports?: boolean; output: 'table' | 'json' | 'yaml'; config?: string }) => {
      let progress: ReturnType<typeof progressLine> | undefined;
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        const kc = await loadKubeConfig(o.kubeconfig);
        const { VersionApi } = await import('@kubernetes/client-node');
        const { auditObjects, listCluster } = await import('./audit/audit.js');
        const { buildReports, kubeReportClient, writeReports } = await import('./audit/policy-report.js');
        const { makePageLister } = await import('./world/list-page.js');
        const { describeApiError } = await import('./world/cluster-world.js');
        const server = kc.getCurrentCluster()?.server ?? 'the cluster';
        progress = progressLine(process.stderr);
        let minor: number | undefined;
        try {
          minor = parseKubernetesMinor((await kc.makeApiClient(VersionApi).getCode()).minor) ?? holder.config.kubernetesMinor;
        } catch (err) {
          throw new AdmissionError('NO_CLUSTER', `cannot reach ${server}: ${describeApiError(err)}`);
        }
        const listed = await listCluster(makePageLister(kc), {
          namespace: o.namespace,
          onProgress: (kind, n) => progress!.update(`listing ${kind.plural}: ${n}`),
        });
        progress.update('evaluating…');
        const all = [...listed.objects.values()].flat();
        const pods = listed.objects.get('/Pod') ?? [];
        const result = auditObjects(
          all.filter((x) => x.kind !== 'Pod'),
          pods,
          { policies: holder.policies, world: new MemoryWorld(all, { kubernetesMinor: minor }), kubernetesMinor: minor, now: () => new Date() },
        );
        let written;
        if (o.writeReports) {
          progress.update('writing PolicyReports…');
          written = await writeReports(kubeReportClient(kc), buildReports(result.findings, result.checked, new Date()), { namespace: o.namespace }).catch((err: Error) => {
            throw new AdmissionError('CLUSTER_REQUEST_FAILED', `PolicyReports not written: ${err.message}`);
          });
        }
        progress.clear();
        if (o.writeReports && o.namespace) {
          process.stderr.write(`note: with --namespace only the PolicyReport of ${o.namespace} is written; proxy pods elsewhere are printed, not reported\n`);
        }
        for (const k of listed.notInstalled) process.stderr.write(`note: ${k} is not installed in the cluster (its CRD is missing): nothing of it was checked\n`);
        for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
        if (o.output === 'json') process.stdout.write(`${JSON.stringify(result.findings, null, 2)}\n`);
        else if (o.output === 'yaml') process.stdout.write(toYaml(result.findings, { lineWidth: 0, aliasDuplicateObjects: false }));
        else if (result.findings.length > 0) {
          process.stdout.write(formatFindingsTable(result.findings, process.stdout.isTTY ? process.stdout.columns : undefined));
        }
        if (o.output === 'table') process.stderr.write(`${summarize({ findings: result.findings, objects: result.checked.length, notes: result.notes })}\n`);
        if (written) {
          const parts = (['created', 'updated', 'emptied'] as const).filter((k) => written[k].length > 0).map((k) => `${k} in ${written[k].join(', ')}`);
          process.stderr.write(`PolicyReports ${parts.length > 0 ? parts.join('; ') : 'not needed: nothing checked'}\n`);
        }
        process.exitCode = result.findings.some((f) => f.mode === 'deny') ? EXIT.denied : EXIT.ok;
      } catch (err) {
        progress?.clear();
        fail(err);
      }
    });

  program
    .command('inject')
    .description("print the pods after ext_proc sidecar injection, as the webhook would inject them (like istioctl kube-inject)")
    .requiredOption('-f, --file <file...>', 'Pod manifests (YAML or JSON, multi-document, directories, - for stdin); AIGatewayRoutes given too are used to check the Gateway')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--kubernetes-minor <minor>', 'Kubernetes minor version to inject for (33 or more: a native sidecar)')
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action((o: { file: string[]; output: 'yaml' | 'json'; kubernetesMinor?: string; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        let minor = holder.config.kubernetesMinor;
        if (o.kubernetesMinor !== undefined) {
          minor = parseKubernetesMinor(o.kubernetesMinor);
          if (minor === undefined) throw new AdmissionError('INVALID_INPUT_FILE', `--kubernetes-minor ${o.kubernetesMinor}: expected the minor version, e.g. 32, 33 or 33+`);
        }
        const manifests = readManifests(o.file);
        const result = injectPods(manifests, { policies: ALL_POLICIES, settings: holder.config.policies, kubernetesMinor: minor, now: () => new Date() });
        if (result.pods.length === 0) throw new AdmissionError('INVALID_INPUT_FILE', `${o.file.join(', ')}: no Pod (apiVersion v1, kind Pod) found`);
        for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
        for (const p of result.pods) {
          if (p.skipped) process.stderr.write(`${p.source}: not injected (${p.skipped.reason}): ${p.skipped.detail}\n`);
          for (const w of p.warnings) process.stderr.write(`${p.source}: Warning: ${w}\n`);
        }
        const pods = result.pods.map((p) => p.pod);
        if (o.output === 'json') {
          const out = pods.length === 1 ? pods[0] : { apiVersion: 'v1', kind: 'List', items: pods };
          process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
        } else {
          process.stdout.write(pods.map((p) => toYaml(p, { lineWidth: 0 })).join('---\n'));
        }
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('explain')
    .description('print the fall-over plan of each AIGatewayRoute rule, or where and why it breaks')
    .option('-f, --file <path...>', 'manifests (YAML, multi-document or kind: List, or JSON) or directories; they are the whole world')
    .option('--route <ns/name>', 'an AIGatewayRoute in the cluster, with the BackendTrafficPolicies there')
    .option('--kubeconfig <file>', 'kubeconfig for --route (default: like kubectl)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .action(async (o: { file?: string[]; route?: string; kubeconfig?: string; output: 'text' | 'json'; config?: string }) => {
      try {
        if (!o.file === !o.route) throw new AdmissionError('INVALID_INPUT_FILE', 'give either -f FILE_OR_DIR... or --route NAMESPACE/NAME');
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        let world, routes;
        if (o.file) {
          ({ world, routes } = worldOf(readManifests(o.file).map((m) => m.object)));
          if (routes.length === 0 && world.list('gateway.envoyproxy.io/BackendTrafficPolicy').length === 0) {
            throw new AdmissionError('INVALID_INPUT_FILE', `${o.file.join(' ')}: no AIGatewayRoute or BackendTrafficPolicy found`);
          }
        } else {
          const { clusterWorld, findCluster, parseRouteArg, ROUTE_NEEDS_CLUSTER } = await import('./explain-cluster.js');
          const { namespace, name } = parseRouteArg(o.route!);
          const kc = findCluster(o.kubeconfig, process.env, process.env.HOME);
          if (!kc) throw new AdmissionError('NO_CLUSTER', ROUTE_NEEDS_CLUSTER);
          const found = await clusterWorld(kc, namespace, name);
          world = found.world;
          routes = [found.route];
        }
        const result = explain(world, routes, holder.policies, new Date());
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderText(result));
      } catch (err) {
        fail(err);
      }
    });

  program
    .command('certs')
    .description('write a CA and a serving certificate for SERVICE.NAMESPACE.svc; print the base64 CA bundle')
    .requiredOption('--service <name>', 'Service name of the webhook')
    .requiredOption('--namespace <ns>', 'namespace of the Service')
    .requiredOption('--out <dir>', 'directory to write tls.crt, tls.key, ca.crt, ca.key into')
    .option('--local', 'also cover localhost and 127.0.0.1')
    .option('--san <name...>', 'extra DNS names or IPv4 addresses')
    .action((o: { service: string; namespace: string; out: string; local?: boolean; san?: string[] }) => {
      try {
        const extraSans = [...(o.local ? ['localhost', '127.0.0.1'] : []), ...(o.san ?? [])];
        const bundle = createCertBundle({ service: o.service, namespace: o.namespace, extraSans });
        writeCertBundle(o.out, bundle);
        process.stderr.write(`wrote ${o.out}/tls.crt, tls.key, ca.crt, ca.key for ${o.service}.${o.namespace}.svc\n`);
        process.stdout.write(`${caBundleBase64(bundle.caCert)}\n`);
      } catch (err) {
        fail(err);
      }
    });

  registerVap(program);
  return program;
}

await buildProgram().parseAsync(process.argv);
