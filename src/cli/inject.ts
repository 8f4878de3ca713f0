import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { AdmissionError } from '../review/errors.js';
import { parseKubernetesMinor } from '../world/world.js';
import { readManifests } from '../input/manifests.js';
import { injectPods } from '../inject/inject.js';
import { stringify as toYaml } from 'yaml';
import { examples, fail } from './common.js';

export function registerInject(program: Command): void {
  program
    .command('inject')
    .description('print pods and workloads after ext_proc sidecar injection into their pod template, as the webhook would inject the pods (like istioctl kube-inject)')
    .requiredOption('-f, --file <file...>', 'Pods, Deployments, StatefulSets, DaemonSets, ReplicaSets, Jobs, CronJobs (YAML or JSON, multi-document, kind: List, directories, - for stdin); AIGatewayRoutes given too are used to check the Gateway')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['yaml', 'json']).default('yaml'))
    .option('--kubernetes-minor <minor>', 'Kubernetes minor version to inject for (33 or more: a native sidecar)')
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .addHelpText('after', examples('aigw-admission inject -f envoy-deployment.yaml -f routes.yaml --kubernetes-minor 33', 'kubectl get deploy -n envoy-gateway-system -o yaml | aigw-admission inject -f - -o json'))
    .action((o: { file: string[]; output: 'yaml' | 'json'; kubernetesMinor?: string; config?: string }) => {
      try {
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        let minor = holder.config.kubernetesMinor;
        if (o.kubernetesMinor !== undefined) {
          minor = parseKubernetesMinor(o.kubernetesMinor);
          if (minor === undefined) throw new AdmissionError('INVALID_FLAG', `--kubernetes-minor ${o.kubernetesMinor}: expected the minor version, e.g. 32, 33 or 33+`);
        }
        const manifests = readManifests(o.file);
        const result = injectPods(manifests, { policies: ALL_POLICIES, settings: holder.config.policies, kubernetesMinor: minor, now: () => new Date() });
        if (result.pods.length === 0) {
          throw new AdmissionError('INVALID_INPUT_FILE', `${o.file.join(', ')}: no Pod or workload with a pod template (Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob) found`);
        }
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
}
