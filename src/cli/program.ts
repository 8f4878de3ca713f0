/**
 * The program, built from one file per verb (src/cli/<verb>.ts). The verbs are the only code that reads flags, env and
 * files; they wire them into the core. Tests run it in process (test/cli-run.ts); src/cli.ts runs it on process.argv.
 */
import { Command } from 'commander';
import { EXIT } from './common.js';
import { registerServe } from './serve.js';
import { registerReview } from './review.js';
import { registerCheck } from './check.js';
import { registerAudit } from './audit.js';
import { registerInject } from './inject.js';
import { registerExplain } from './explain.js';
import { registerCerts } from './certs.js';
import { packageVersion, registerVersion } from './version.js';
import { registerTest } from './test.js';
import { registerVap } from './vap.js';

export function buildProgram(): Command {
  const program = new Command('aigw-admission')
    .description('Policy-as-code admission webhook for Envoy AI Gateway')
    .version(packageVersion(), '-V, --version', 'print the version')
    .showHelpAfterError()
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.badInput));
  registerServe(program);
  registerReview(program);
  registerCheck(program);
  registerAudit(program);
  registerInject(program);
  registerExplain(program);
  registerCerts(program);
  registerTest(program);
  registerVersion(program);
  registerVap(program);
  return program;
}

