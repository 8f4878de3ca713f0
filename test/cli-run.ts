/**
 * The CLI run in this process, for tests about what a verb prints and returns (spawning Node costs about a second per
 * run on a busy machine). Exit codes, signals and stdin stay with the real-process tests.
 */
import { buildProgram } from '../src/cli/program.js';

export interface CliRun {
  status: number;
  stdout: string;
  stderr: string;
}

class Exit extends Error {
  constructor(readonly code: number) {
    super(`exit ${code}`);
  }
}

/**
 * Runs `aigw-admission ARGS` with process.stdout/stderr captured, process.exit turned into a return, and `env` (when
 * given) as the whole environment for the run. One run at a time: the tests of a file run one after another.
 */
export async function runCli(args: readonly string[], opts: { env?: NodeJS.ProcessEnv } = {}): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const saved = { stdout: process.stdout.write, stderr: process.stderr.write, exit: process.exit, env: process.env, exitCode: process.exitCode };
  const ttys = [process.stdout.isTTY, process.stderr.isTTY];
  const capture = (into: string[]) =>
    ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      into.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      const done = rest.find((r) => typeof r === 'function') as (() => void) | undefined;
      done?.();
      return true;
    }) as typeof process.stdout.write;
  // Like a child process whose output is piped: no progress line, no terminal width.
  process.stdout.isTTY = false;
  process.stderr.isTTY = false;
  process.stdout.write = capture(out);
  process.stderr.write = capture(err);
  process.exit = ((code?: number) => {
    throw new Exit(code ?? 0);
  }) as typeof process.exit;
  if (opts.env) process.env = { ...opts.env };
  process.exitCode = undefined;
  let status: number;
  try {
    await buildProgram().parseAsync(['node', 'aigw-admission', ...args]);
    status = Number(process.exitCode ?? 0);
  } catch (e) {
    if (!(e instanceof Exit)) throw e;
    status = e.code;
  } finally {
    process.stdout.write = saved.stdout;
    process.stderr.write = saved.stderr;
    process.exit = saved.exit;
    process.env = saved.env;
    process.exitCode = saved.exitCode;
    [process.stdout.isTTY, process.stderr.isTTY] = ttys as [true, true];
  }
  return { status, stdout: out.join(''), stderr: err.join('') };
}
