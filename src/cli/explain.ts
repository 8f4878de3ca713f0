import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { ConfigHolder } from '../config/holder.js';
import { AdmissionError } from '../review/errors.js';
import { readManifests } from '../input/manifests.js';
import { explain, renderText, worldOf } from '../explain/explain.js';
import { examples, findKubeConfig, fail } from './common.js';

export function registerExplain(program: Command): void {
  program
    .command('explain')
    .description('print the fall-over plan of each AIGatewayRoute rule, or where and why it breaks')
    .option('-f, --file <path...>', 'manifests (YAML, multi-document or kind: List, or JSON) or directories; they are the whole world')
    .option('--route <ns/name>', 'an AIGatewayRoute in the cluster, with the BackendTrafficPolicies there')
    .option('--kubeconfig <file>', 'kubeconfig for --route (default: like kubectl)')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .option('--config <file>', 'policy configuration (default: config.yaml when present)')
    .addHelpText('after', examples('aigw-admission explain -f route.yaml -f retry.yaml', 'aigw-admission explain --route default/chat', 'aigw-admission explain -f manifests/ -o json'))
    .action(async (o: { file?: string[]; route?: string; kubeconfig?: string; output: 'text' | 'json'; config?: string }) => {
      try {
        if (!o.file === !o.route) throw new AdmissionError('INVALID_FLAG', 'give either -f FILE_OR_DIR... or --route NAMESPACE/NAME');
        const holder = new ConfigHolder(ALL_POLICIES, ConfigHolder.resolvePath(o.config));
        let world, routes;
        if (o.file) {
          ({ world, routes } = worldOf(readManifests(o.file).map((m) => m.object)));
          if (routes.length === 0 && world.list('gateway.envoyproxy.io/BackendTrafficPolicy').length === 0) {
            throw new AdmissionError('INVALID_INPUT_FILE', `${o.file.join(' ')}: no AIGatewayRoute or BackendTrafficPolicy found`);
          }
        } else {
          const { clusterWorld, parseRouteArg, ROUTE_NEEDS_CLUSTER } = await import('../explain/cluster.js');
          const { namespace, name } = parseRouteArg(o.route!);
          const kc = await findKubeConfig(o.kubeconfig);
          if (!kc) throw new AdmissionError('NO_CLUSTER', ROUTE_NEEDS_CLUSTER);
          const { makePageLister } = await import('../world/list-page.js');
          const found = await clusterWorld(makePageLister(kc), namespace, name);
          world = found.world;
          routes = [found.route];
        }
        const result = explain(world, routes, holder.policies, new Date());
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : renderText(result));
      } catch (err) {
        fail(err);
      }
    });
}
