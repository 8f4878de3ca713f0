import type { Command } from 'commander';
import { examples, fail } from './common.js';

export function registerCerts(program: Command): void {
  program
    .command('certs')
    .description('write a CA and a serving certificate for SERVICE.NAMESPACE.svc; print the base64 CA bundle')
    .requiredOption('--service <name>', 'Service name of the webhook')
    .requiredOption('--namespace <ns>', 'namespace of the Service')
    .requiredOption('--out <dir>', 'directory to write tls.crt, tls.key, ca.crt, ca.key into')
    .option('--local', 'also cover localhost and 127.0.0.1')
    .option('--san <name...>', 'extra DNS names or IPv4 addresses')
    .addHelpText('after', examples('aigw-admission certs --service aigw-admission --namespace aigw-admission --out certs/', 'aigw-admission certs --service aigw-admission --namespace default --out certs/ --local'))
    .action(async (o: { service: string; namespace: string; out: string; local?: boolean; san?: string[] }) => {
      try {
        // node-forge is loaded only by the verb that makes certificates, not with the CLI.
        const { createCertBundle, writeCertBundle, caBundleBase64 } = await import('../tls/certs.js');
        const extraSans = [...(o.local ? ['localhost', '127.0.0.1'] : []), ...(o.san ?? [])];
        const bundle = createCertBundle({ service: o.service, namespace: o.namespace, extraSans });
        writeCertBundle(o.out, bundle);
        process.stderr.write(`wrote ${o.out}/tls.crt, tls.key, ca.crt, ca.key for ${o.service}.${o.namespace}.svc\n`);
        process.stdout.write(`${caBundleBase64(bundle.caCert)}\n`);
      } catch (err) {
        fail(err);
      }
    });
}
