import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { examples } from './common.js';

/** The package's version, from its package.json (found upward from this file: src/ in tests, dist/src/ when built). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const file = join(dir, 'package.json');
    if (existsSync(file)) {
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'aigw-admission' && pkg.version) return pkg.version;
    }
    dir = dirname(dir);
  }
  return '0.0.0-unknown';
}

export function registerVersion(program: Command): void {
  program
    .command('version')
    .description('print the version of aigw-admission and of Node.js it runs on')
    .option('-o, --output <format>', 'output format: text or json', 'text')
    .addHelpText('after', examples('aigw-admission version', 'aigw-admission version -o json', 'aigw-admission --version'))
    .action((o: { output: string }) => {
      const info = { version: packageVersion(), node: process.versions.node };
      process.stdout.write(o.output === 'json' ? `${JSON.stringify(info, null, 2)}\n` : `aigw-admission ${info.version} (node ${info.node})\n`);
    });
}
