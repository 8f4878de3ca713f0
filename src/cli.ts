#!/usr/bin/env node
/**
 * Composition root: builds the program from one file per verb (src/cli/<verb>.ts). The verbs are the only code that
 * reads flags, env and files; they wire them into the core.
 */
import { Command } from 'commander';
import { EXIT } from './cli/common.js';
import { registerServe } from './cli/serve.js';
import { registerReview } from './cli/review.js';
import { registerCheck } from './cli/check.js';
import { registerAudit } from './cli/audit.js';
import { registerInject } from './cli/inject.js';
import { registerExplain } from './cli/explain.js';
import { registerCerts } from './cli/certs.js';
import { packageVersion, registerVersion } from './cli/version.js';
import { registerTest } from './cli/test.js';
import { registerVap } from './cli/vap.js';

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

await buildProgram().parseAsync(process.argv);
