import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HAS_SHARED, ROOT, SHARED } from '../helpers.js';
import { runCli } from '../cli-run.js';

const CLI = join(ROOT, 'dist/src/cli.js');
// No cluster to find: check would otherwise read CRDs from whatever cluster kubectl would use.
const NO_CLUSTER_HOME = mkdtempSync(join(tmpdir(), 'aigw-check-home-'));
const NO_CLUSTER_ENV = { ...process.env, HOME: NO_CLUSTER_HOME, KUBECONFIG: '' };
/** stdin needs a real process. */
const spawnRun = (args: string[], input: string) => spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, input, encoding: 'utf8', env: NO_CLUSTER_ENV });
const run = (args: string[]) => runCli(args, { env: NO_CLUSTER_ENV });
const PROJECT = 'test/fixtures/check/project';
// Where each finding's object was read: file, first line of the document's content, document index.
const ROUTES = { file: `${PROJECT}/routes.yaml`, line: 2, document: 0 };
const TYPOS_SOURCE = { file: `${PROJECT}/typos.json`, line: 1, document: 0 };

const CHAT = { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'default', name: 'chat' };
const IDLE_ZERO =
  'spec.rules[0] ("chat"): streamIdleTimeout 0s disables the idle timeout, so a model that stops sending is cut by only the 1m0s request bound and never failed over. Fix: set a positive streamIdleTimeout below 1m0s (e.g. 30s for a first-token budget), or remove the field.';
// typos (team-a) names AIServiceBackend openai, which the files hold only in default: a reference the files can judge.
const TYPOS_UNRESOLVED =
  'spec.rules[0] ("chat"): backendRef "openai" names AIServiceBackend team-a/openai, which does not exist. Until it resolves, the AI Gateway controller fails the whole route: it generates no HTTPRoute for AIGatewayRoute team-a/typos (or stops updating the one it made), so no rule of it is served or changed. Fix: create AIServiceBackend team-a/openai or correct the name. If it is applied together with this route, this warning is expected until it exists.';
const TYPOS = { apiVersion: 'aigateway.envoyproxy.io/v1beta1', kind: 'AIGatewayRoute', namespace: 'team-a', name: 'typos' };
const BAD_CEL =
  'CEL expression "input_tokens * 2" (metadataKey "cost") does not compile: no such overload: uint * int. The controller refuses it and the Gateway\'s whole configuration stops updating. Variables: model, backend, route_name (string); input_tokens, cached_input_tokens, cache_creation_input_tokens, output_tokens, total_tokens, reasoning_tokens (uint: write 2u or uint(2) next to them)';

describe('aigw-admission check', () => {
  it('prints the findings in the SPEC shape with -o json, the namespace-less route in default, and exits 1 on a deny', async () => {
    const r = await run(['check', '--offline', '-f', PROJECT, '-o', 'json']);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('note: no CRDs given (--crds DIR) or read from a cluster: objects are not checked against their CRD schema and rules\n');
    expect(JSON.parse(r.stdout)).toEqual([
      { policy: 'stream-idle-zero', mode: 'warn', resource: CHAT, path: 'spec.rules[0].streamIdleTimeout', message: IDLE_ZERO, source: ROUTES },
      { policy: 'llm-request-cost-cel', mode: 'deny', resource: CHAT, path: 'spec.llmRequestCosts[0].cel', message: BAD_CEL, source: ROUTES },
      { policy: 'unresolved-backend', mode: 'warn', resource: TYPOS, path: 'spec.rules[0].backendRefs[0]', message: TYPOS_UNRESOLVED, source: TYPOS_SOURCE },
    ]);
  });

  it('prints the same findings as YAML with -o yaml', async () => {
    const r = await run(['check', '-f', `${PROJECT}/routes.yaml`, '-o', 'yaml']);
    expect(r.status).toBe(1);
    expect(r.stdout.split('\n').slice(0, 8)).toEqual([
      '- policy: stream-idle-zero',
      '  mode: warn',
      '  resource:',
      '    apiVersion: aigateway.envoyproxy.io/v1beta1',
      '    kind: AIGatewayRoute',
      '    namespace: default',
      '    name: chat',
      '  path: spec.rules[0].streamIdleTimeout',
    ]);
  });

  it.runIf(HAS_SHARED)('prints a kubectl-like table with CRD schema findings (--crds) and a summary on stderr', async () => {
    const r = await run(['check', '-f', PROJECT, '--crds', join(SHARED, 'fixtures/crds/ai-gateway')]);
    expect(r.status).toBe(1);
    // The API server's "some rules were not checked" remark is a note, not a deny of its own.
    expect(r.stderr).toBe(
      'note: AIGatewayRoute team-a/typos (test/fixtures/check/project/typos.json:1): some validation rules were not checked because the object was invalid; correct the existing errors to complete validation\n5 findings (3 deny, 2 warn) in 3 objects\n',
    );
    expect(r.stdout).toBe(
      [
        'MODE   SOURCE                                      KIND             NAMESPACE/NAME   POLICY                 PATH                              MESSAGE',
        `warn   test/fixtures/check/project/routes.yaml:2   AIGatewayRoute   default/chat     stream-idle-zero       spec.rules[0].streamIdleTimeout   ${IDLE_ZERO}`,
        `deny   test/fixtures/check/project/routes.yaml:2   AIGatewayRoute   default/chat     llm-request-cost-cel   spec.llmRequestCosts[0].cel       ${BAD_CEL}`,
        'deny   test/fixtures/check/project/typos.json:1    AIGatewayRoute   team-a/typos     crd-schema             spec.llmRequestCosts[0].type      Unsupported value: "OutputTokens": supported values: "OutputToken", "InputToken", "CachedInputToken", "CacheCreationInputToken", "TotalToken", "ReasoningToken", "CEL"',
        'deny   test/fixtures/check/project/typos.json:1    AIGatewayRoute   team-a/typos     crd-schema             spec.rules[0].timeout             unknown field "spec.rules[0].timeout": not in the schema of AIGatewayRoute aigateway.envoyproxy.io/v1beta1, so the API server rejects it (kubectl\'s default --validate=strict); remove it or check its spelling',
        `warn   test/fixtures/check/project/typos.json:1    AIGatewayRoute   team-a/typos     unresolved-backend     spec.rules[0].backendRefs[0]      ${TYPOS_UNRESOLVED}`,
        '',
      ].join('\n'),
    );
  });

  it('exits 0 with no findings (stdin), saying so on stderr', async () => {
    const r = spawnRun(['check', '--offline', '-f', '-'], 'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n');
    expect(r.status).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('note: no CRDs given (--crds DIR) or read from a cluster: objects are not checked against their CRD schema and rules\nno findings in 1 object\n');
    expect((await run(['check', '-f', 'test/fixtures/check/clean', '-o', 'json'])).stdout).toBe('[]\n');
  });

  it('exits 2 on unreadable input, naming the file and line', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-check-'));
    writeFileSync(join(dir, 'bad.yaml'), 'apiVersion: v1\nkind: ConfigMap\n---\nkind: a: b\n');
    const bad = await run(['check', '-f', dir]);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toBe(`aigw-admission: invalid input file: ${join(dir, 'bad.yaml')}:4: not valid YAML: Nested mappings are not allowed in compact mappings\n`);
    const notObject = spawnRun(['check', '-f', '-'], 'kind: ConfigMap\n');
    expect(notObject.status).toBe(2);
    expect(notObject.stderr).toBe('aigw-admission: invalid input file: <stdin>:1: not a Kubernetes object: apiVersion and kind must be strings\n');
    expect((await run(['check', '-f', 'no-such-dir'])).stderr).toBe('aigw-admission: invalid input file: no-such-dir: no such file or directory\n');
  });
});
