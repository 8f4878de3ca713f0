import { Option, type Command } from 'commander';
import { examples } from './common.js';
import { packageVersion } from '../observe/build-info.js';

export { packageVersion };

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version of aigw-admission and of Node.js it runs on')
    .addOption(new Option('-o, --output <format>', 'output format').choices(['text', 'json']).default('text'))
    .addHelpText('after', examples('aigw-admission version', 'aigw-admission version -o json', 'aigw-admission --version'))
    .action((o: { output: string }) => {
      const info = { version: packageVersion(), node: process.versions.node };
      process.stdout.write(o.output === 'json' ? `${JSON.stringify(info, null, 2)}\n` : `aigw-admission ${info.version} (node ${info.node})\n`);
    });
}
