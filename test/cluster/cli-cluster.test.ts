import { afterEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeApiServer } from './fake-apiserver.js';
import { fakeCluster, fakeKubeconfig, runCli } from './support.js';
import { ApiServerClient } from '../server/apiserver-client.js';
import { ROOT } from '../helpers.js';

const CLI = join(ROOT, 'dist/src/cli.js');
let fake: FakeApiServer | undefined;
afterEach(async () => {
  await fake?.cut().catch(() => undefined);
});

describe('aigw-admission serve --kubeconfig (cluster mode)', () => {
  it('syncs the cache from the kubeconfig cluster, logs it, turns ready, and exits 0 on SIGTERM', async () => {
    fake = fakeCluster();
    await fake.start();
    const dir = mkdtempSync(join(tmpdir(), 'aigw-cli-cluster-'));
    const kubeconfig = fakeKubeconfig(dir, fake.port);
    const child = spawn(process.execPath, [CLI, 'serve', '--kubeconfig', kubeconfig, '--no-manage-certs', '--listen', '127.0.0.1:0', '--tls-dir', join(dir, 'certs')], {
      cwd: ROOT,
      env: { ...process.env, POD_NAME: 'aigw-admission-0' },
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        const m = /listening on https:\/\/127\.0\.0\.1:(\d+) \(cluster mode\)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', (code) => reject(new Error(`exited ${code}: ${stderr}`)));
    });
    // Every list and /version answered; the child may need a moment to read the last answer, so ask until it has.
    await fake.until(() => fake!.openWatches() === 5 && fake!.count('version') === 1 && fake!.count('list', 'backends') >= 1);
    const client = new ApiServerClient(port, readFileSync(join(dir, 'certs', 'ca.crt'), 'utf8'));
    let ready = await client.raw('GET', '/readyz');
    for (let i = 0; i < 100 && ready.status !== 200; i++) ready = await client.raw('GET', '/readyz');
    client.close();
    expect([ready.status, JSON.parse(ready.body)]).toEqual([200, { ready: true, reasons: [] }]);
    const code = await new Promise<number | null>((resolve) => {
      child.on('exit', resolve);
      child.kill('SIGTERM');
    });
    expect(code).toBe(0);
    const events = stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(events.find((e) => e.event === 'cache_kind_not_installed')).toMatchObject({
      level: 'warn',
      kind: 'gateway.envoyproxy.io/Backend',
      msg: 'CRD not installed: treating the kind as empty and looking again periodically',
    });
    expect(events.find((e) => e.event === 'cache_synced')).toMatchObject({
      level: 'info',
      kinds: {
        'aigateway.envoyproxy.io/AIGatewayRoute': 0,
        'aigateway.envoyproxy.io/AIServiceBackend': 0,
        'gateway.envoyproxy.io/EnvoyPatchPolicy': 0,
        'gateway.envoyproxy.io/BackendTrafficPolicy': 0,
        'gateway.envoyproxy.io/Backend': 'not installed',
      },
      kubernetesMinor: 33,
      msg: 'cluster cache synced; ready',
    });
  });

  it('names the missing namespace of the certificate Secret and the two fixes, and exits 2', async () => {
    fake = fakeCluster();
    fake.install('v1', 'secrets', 'Secret');
    await fake.start();
    const dir = mkdtempSync(join(tmpdir(), 'aigw-cli-cluster-'));
    const out = await runCli(['serve', '--kubeconfig', fakeKubeconfig(dir, fake.port), '--listen', '127.0.0.1:0', '--tls-dir', join(dir, 'certs')]);
    expect([out.code, out.stderr]).toEqual([
      2,
      'aigw-admission: no cluster: cannot keep the webhook certificate in Secret aigw-admission/aigw-admission-tls: namespace "aigw-admission" does not exist. ' +
        'Create it (kubectl create namespace aigw-admission), or pass --namespace with one that exists, or serve a certificate of your own: --no-manage-certs --tls-dir DIR (made when absent)\n',
    ]);
  });
});
