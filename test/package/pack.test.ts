/**
 * The published package: `npm pack` makes a tarball that installs into an empty folder with its runtime dependencies
 * only, and its `aigw-admission` command runs from npx there. `npm test` has built dist/ already, so the tarball is
 * packed without scripts. The install reads the npm cache that `npm ci` filled; it is slow on a busy machine, so
 * the test has no timeout of its own.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ROOT } from '../helpers.js';

const work = mkdtempSync(join(tmpdir(), 'aigw-pack-'));
// Removing the installed node_modules is slow on a busy machine: no hook timeout either.
afterAll(() => rmSync(work, { recursive: true, force: true }), 0);

function npm(args: string[], cwd: string): string {
  return execFileSync('npm', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, npm_config_update_notifier: 'false' } });
}

describe('the npm package', () => {
  it('packs only the built code, README and LICENSE, installs from the tarball, and runs from npx', () => {
    const packed = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', work], ROOT)) as {
      filename: string;
      files: { path: string }[];
    }[];
    const paths = packed[0]!.files.map((f) => f.path);
    expect(paths.filter((p) => !/^dist\/(src|policies)\//.test(p)).sort()).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(paths).toContain('dist/src/cli.js');
    expect(paths.some((p) => p.startsWith('dist/bench/') || p.startsWith('dist/test/'))).toBe(false);

    const app = join(work, 'app');
    execFileSync('mkdir', [app]);
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--omit=dev', join(work, packed[0]!.filename)], app);
    const installed = JSON.parse(readFileSync(join(app, 'node_modules', 'aigw-admission', 'package.json'), 'utf8')) as { bin: Record<string, string> };
    expect(installed.bin).toEqual({ 'aigw-admission': 'dist/src/cli.js' });
    // Only runtime dependencies came along.
    expect(readdirSync(join(app, 'node_modules'))).not.toContain('vitest');

    writeFileSync(
      join(app, 'route.yaml'),
      [
        'apiVersion: aigateway.envoyproxy.io/v1beta1',
        'kind: AIGatewayRoute',
        'metadata: {name: chat, namespace: default}',
        'spec:',
        '  parentRefs: [{name: gw}]',
        '  rules:',
        '  - backendRefs: [{name: openai}]',
        '    timeouts: {request: 10s}',
        '    streamIdleTimeout: 30s',
        '',
      ].join('\n'),
    );
    const help = spawnSync('npx', ['--offline', 'aigw-admission', '--help'], { cwd: app, encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('Usage: aigw-admission [options] [command]');
    const check = spawnSync('npx', ['--offline', 'aigw-admission', 'check', '-f', 'route.yaml', '-o', 'json'], { cwd: app, encoding: 'utf8' });
    expect(check.status).toBe(1);
    const findings = JSON.parse(check.stdout) as { policy: string; path: string }[];
    expect(findings.map((f) => `${f.policy} ${f.path}`)).toContain('stream-idle-within-request spec.rules[0].streamIdleTimeout');
  }, 0);
});
