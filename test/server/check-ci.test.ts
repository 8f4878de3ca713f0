import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { ROOT, yamlObjects } from '../helpers.js';

const CLI = join(ROOT, 'dist/src/cli.js');
const NO_CLUSTER_HOME = mkdtempSync(join(tmpdir(), 'aigw-ci-home-'));
const ENV = { ...process.env, HOME: NO_CLUSTER_HOME, KUBECONFIG: '' };
const run = (args: string[], opts: { input?: string; cwd?: string; env?: NodeJS.ProcessEnv } = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? ROOT, input: opts.input, encoding: 'utf8', env: opts.env ?? ENV });
const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

// One CLI process per test: each spawn costs seconds on a loaded machine, so no test waits on several in a row.
describe('the CLI in CI and pre-commit', () => {
  it('--version prints the package version', () => {
    expect(run(['--version']).stdout).toBe(`${PKG.version}\n`);
  });

  it('the version verb prints it with the Node.js version', () => {
    expect(run(['version']).stdout).toBe(`aigw-admission ${PKG.version} (node ${process.versions.node})\n`);
  });

  it('a bad flag value is a usage error naming the flag, not an input-file error', () => {
    const listen = run(['serve', '--standalone', '--listen', 'nowhere']);
    expect([listen.status, listen.stderr]).toEqual([2, 'aigw-admission: invalid flag: --listen nowhere: expected HOST:PORT, e.g. 0.0.0.0:8443\n']);
  });

  it('check without input is a usage error', () => {
    const none = run(['check']);
    expect([none.status, none.stderr]).toEqual([2, 'aigw-admission: invalid flag: no input: give -f FILE_OR_DIR (- for stdin) or -k KUSTOMIZATION_DIR\n']);
  });

  it('a directory where a file is expected is said in words, not EISDIR', () => {
    const dir = run(['review', '-f', 'test/fixtures']);
    expect([dir.status, dir.stderr]).toEqual([2, 'aigw-admission: invalid input file: test/fixtures: is a directory (use -f DIR to read the files in it)\n']);
  });

  it('no objects at all is exit 2, also from an empty pipe', () => {
    const empty = run(['check', '--offline', '-f', '-'], { input: '' });
    expect([empty.status, empty.stderr]).toEqual([2, 'aigw-admission: invalid input file: <stdin>: no Kubernetes objects found, so nothing was checked (an empty render or pipe fails rather than passing)\n']);
  });

  it('--allow-empty makes no objects a note', () => {
    const allowed = run(['check', '--offline', '--allow-empty', '-f', '-'], { input: '' });
    expect([allowed.status, allowed.stderr]).toEqual([0, 'note: <stdin>: no Kubernetes objects found, nothing to check (--allow-empty)\n']);
  });

  it('-k says what to do when kubectl is not on PATH', () => {
    const missing = run(['check', '--offline', '-k', 'test/fixtures/check/inputs'], { env: { ...ENV, PATH: '/nonexistent' } });
    expect([missing.status, missing.stderr]).toEqual([
      2,
      'aigw-admission: invalid input file: -k test/fixtures/check/inputs: kubectl is not on PATH, and -k renders with kubectl kustomize. Install kubectl, or render it yourself: kustomize build test/fixtures/check/inputs | aigw-admission check -f -\n',
    ]);
  });

  it.runIf(spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0)('-k renders with kubectl kustomize; findings name the kustomization', () => {
    const rendered = run(['check', '--offline', '-k', 'test/fixtures/check/inputs', '-o', 'json']);
    expect(rendered.status).toBe(0);
    expect((JSON.parse(rendered.stdout) as Array<{ policy: string; source: unknown }>).map((f) => [f.policy, f.source])).toEqual([
      ['stream-idle-zero', { file: 'kustomize test/fixtures/check/inputs', line: 1, document: 0 }],
    ]);
  });

  it('--fail-on warn fails on a warning; the table names the source file and line', () => {
    const warn = run(['check', '--offline', '-f', 'test/fixtures/check/inputs/route.yaml', '--fail-on', 'warn']);
    expect(warn.status).toBe(1);
    expect(warn.stdout.split('\n')[1]).toMatch(/^warn {3}test\/fixtures\/check\/inputs\/route\.yaml:1 {3}AIGatewayRoute {3}default\/chat +stream-idle-zero /);
  });

  it('--fail-on never passes a deny', () => {
    expect(run(['check', '--offline', '-f', 'test/fixtures/check/project', '--fail-on', 'never']).status).toBe(0);
  });

  it('--fail-on takes only its choices', () => {
    const bad = run(['check', '--offline', '-f', 'x', '--fail-on', 'sometimes']);
    expect([bad.status, bad.stderr.split('\n')[0]]).toEqual([2, "error: option '--fail-on <mode>' argument 'sometimes' is invalid. Allowed choices are deny, warn, never."]);
  });

  it('inject takes workloads: the sidecar goes into the pod template of a Deployment and a CronJob', () => {
    const pod = yamlObjects(join(ROOT, 'test/fixtures/pods/envoy-proxy-pod.yaml'))[0]!;
    const template = { metadata: { labels: pod.metadata!.labels }, spec: pod.spec };
    const deployment = { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'envoy', namespace: 'envoy-gateway-system' }, spec: { template } };
    const cronJob = { apiVersion: 'batch/v1', kind: 'CronJob', metadata: { name: 'c', namespace: 'envoy-gateway-system' }, spec: { jobTemplate: { spec: { template } } } };
    const input = `${JSON.stringify(deployment)}\n---\n${JSON.stringify(cronJob)}\n`;
    const r = run(['inject', '-f', '-', '-o', 'json', '--kubernetes-minor', '33'], { input });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { kind: string; items: Array<{ kind: string; spec: Record<string, any> }> };
    expect(out.items.map((i) => i.kind)).toEqual(['Deployment', 'CronJob']);
    const sidecarOf = (spec: Record<string, any>) => (spec.initContainers ?? []).map((c: { name: string }) => c.name);
    expect(sidecarOf(out.items[0]!.spec.template.spec)).toContain('ai-gateway-extproc');
    expect(sidecarOf(out.items[1]!.spec.jobTemplate.spec.template.spec)).toContain('ai-gateway-extproc');
  });

  it('review takes a YAML object and --world, and -o patch prints the decoded JSON Patch', () => {
    const r = run(['review', '--mutate', '-f', 'test/fixtures/check/inputs/route.yaml', '-o', 'patch', '--world', 'test/fixtures/check/project']);
    expect(r.status).toBe(0);
    const patch = JSON.parse(r.stdout) as Array<{ op: string; path: string }>;
    expect(patch.map((p) => `${p.op} ${p.path}`)).toEqual(['add /spec/rules/0/timeouts', 'add /spec/rules/0/timeouts/request', 'add /spec/rules/0/modelsCreatedAt']);
  });

  it('review -o yaml prints the AdmissionReview response as YAML', () => {
    const validated = run(['review', '-f', '-', '-o', 'yaml'], { input: readFileSync(join(ROOT, 'test/fixtures/check/project/routes.yaml'), 'utf8').split('\n---\n')[0] });
    expect(validated.status).toBe(1);
    expect((parseYaml(validated.stdout) as { response: { allowed: boolean } }).response.allowed).toBe(false);
  });
});

describe('the pre-commit hooks, run as pre-commit runs them', () => {
  const hooks = parseYaml(readFileSync(join(ROOT, '.pre-commit-hooks.yaml'), 'utf8')) as Array<{ id: string; entry: string; pass_filenames?: boolean }>;
  const entry = (id: string) => {
    const [tool, ...args] = hooks.find((h) => h.id === id)!.entry.split(' ');
    expect(tool).toBe('aigw-admission');
    return args;
  };

  it('aigw-admission-check skips a changed file that is not a manifest and passes clean ones', () => {
    const clean = run([...entry('aigw-admission-check'), 'test/fixtures/check/inputs/values.yaml', 'test/fixtures/check/clean/route.yaml']);
    expect([clean.status, clean.stderr.split('\n')[0]]).toEqual([0, 'note: skipped 1 file with no Kubernetes objects: test/fixtures/check/inputs/values.yaml']);
  });

  it('aigw-admission-check fails on a deny', () => {
    expect(run([...entry('aigw-admission-check'), 'test/fixtures/check/project/routes.yaml']).status).toBe(1);
  });

  it('aigw-admission-test runs the suites without file names', () => {
    expect(hooks.find((h) => h.id === 'aigw-admission-test')!.pass_filenames).toBe(false);
    expect(run(entry('aigw-admission-test'), { cwd: join(ROOT, 'examples') }).status).toBe(0);
  });
});

describe('the GitHub Actions example, each step run on a repository with deploy/', () => {
  const workflow = parseYaml(readFileSync(join(ROOT, 'examples/ci/github-actions.yaml'), 'utf8')) as { jobs: { check: { steps: Array<{ run?: string }> } } };
  const commands = workflow.jobs.check.steps.map((s) => s.run).filter((r): r is string => !!r);
  const repo = mkdtempSync(join(tmpdir(), 'aigw-ci-repo-'));
  mkdirSync(join(repo, 'deploy'));
  cpSync(join(ROOT, 'test/fixtures/check/project'), join(repo, 'deploy/project'), { recursive: true });
  writeFileSync(join(repo, 'aigw-test.yaml'), 'manifests: [deploy]\ncases:\n  - name: chat is refused\n    object: { kind: AIGatewayRoute, name: chat }\n    findings: [{ policy: llm-request-cost-cel, mode: deny }]\n');
  const step = (i: number) => spawnSync('sh', ['-c', commands[i]!.replace('npx --yes "$AIGW_ADMISSION"', `"${process.execPath}" "${CLI}"`)], { cwd: repo, encoding: 'utf8', env: ENV });

  it('has three aigw-admission steps', () => {
    expect(commands.map((c) => c.split(' ').slice(0, 4).join(' '))).toEqual([
      'npx --yes "$AIGW_ADMISSION" check',
      'npx --yes "$AIGW_ADMISSION" check',
      'npx --yes "$AIGW_ADMISSION" test',
    ]);
  });

  it('step 1 writes SARIF with the files relative to the repository, and never fails', () => {
    expect(step(0).status).toBe(0);
    const sarif = JSON.parse(readFileSync(join(repo, 'aigw-admission.sarif'), 'utf8')) as { runs: Array<{ results: Array<{ ruleId: string; locations: any[] }> }> };
    expect(sarif.runs[0]!.results.map((r) => [r.ruleId, r.locations[0].physicalLocation.artifactLocation.uri])).toEqual([
      ['stream-idle-zero', 'deploy/project/routes.yaml'],
      ['llm-request-cost-cel', 'deploy/project/routes.yaml'],
      ['unresolved-backend', 'deploy/project/typos.json'],
    ]);
  });

  it('step 2 fails the job on the deny', () => {
    expect(step(1).status).toBe(1);
  });

  it('step 3 runs the repository suite', () => {
    const r = step(2);
    expect([r.status, r.stderr]).toEqual([0, '1 passed, 0 failed (1 case in 1 file)\n']);
  });
});

describe('aigw-admission test', () => {
  it('the project examples pass', () => {
    const ok = run(['test', 'examples']);
    expect([ok.status, ok.stderr]).toEqual([0, '6 passed, 0 failed (6 cases in 3 files)\n']);
  });

  it('a failing case is a FAIL row with the reason, exit 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-suite-'));
    writeFileSync(
      join(dir, 'aigw-test.yaml'),
      `manifests: [${join(ROOT, 'test/fixtures/check/inputs/route.yaml')}]\ncases:\n  - name: should be clean\n    object: { kind: AIGatewayRoute, name: chat }\n    clean: true\n`,
    );
    const failed = run(['test', dir]);
    expect(failed.status).toBe(1);
    expect(failed.stdout.split('\n').slice(1, 3)).toEqual([
      `FAIL     ${join(dir, 'aigw-test.yaml')}   should be clean   AIGatewayRoute default/chat`,
      '       - expected no findings; got stream-idle-zero warn spec.rules[0].streamIdleTimeout',
    ]);
  });
});
