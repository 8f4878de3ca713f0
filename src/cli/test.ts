import { Option, type Command } from 'commander';
import { ALL_POLICIES } from '../../policies/index.js';
import { AdmissionError } from '../review/errors.js';
import { SuiteRunner, TEST_FILE_NAME, findTestFiles, formatOutcomes, type CaseOutcome } from '../suite/suite.js';
import { EXIT, examples, fail, userParseCache, userValidatorCache } from './common.js';

export function registerTest(program: Command): void {
  program
    .command('test')
    .description(`run test files (${TEST_FILE_NAME}): manifests, and the findings each object must or must not produce; exit 1 when a case fails`)
    .argument('[paths...]', `test files, or directories searched for ${TEST_FILE_NAME} and *.${TEST_FILE_NAME}`, ['.'])
    .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
    .addHelpText('after', examples('aigw-admission test', 'aigw-admission test examples/aigw-test.yaml', 'aigw-admission test policies-tests/ -o json'))
    .action(async (paths: string[], o: { output: 'table' | 'json' }) => {
      try {
        const files = findTestFiles(paths);
        if (files.length === 0) throw new AdmissionError('INVALID_INPUT_FILE', `${paths.join(' ')}: no ${TEST_FILE_NAME} or *.${TEST_FILE_NAME} found`);
        const runner = new SuiteRunner(ALL_POLICIES, { parse: await userParseCache(), validators: await userValidatorCache() });
        const outcomes: CaseOutcome[] = [];
        for (const file of files) {
          const run = runner.run(file, () => new Date());
          for (const n of run.notes) process.stderr.write(`note: ${file}: ${n}\n`);
          outcomes.push(...run.outcomes);
        }
        const failed = outcomes.filter((c) => !c.passed).length;
        process.stdout.write(o.output === 'json' ? `${JSON.stringify(outcomes, null, 2)}\n` : formatOutcomes(outcomes));
        if (o.output === 'table') {
          process.stderr.write(`${outcomes.length - failed} passed, ${failed} failed (${outcomes.length} case${outcomes.length === 1 ? '' : 's'} in ${files.length} file${files.length === 1 ? '' : 's'})\n`);
        }
        process.exitCode = failed > 0 ? EXIT.denied : EXIT.ok;
      } catch (err) {
        fail(err);
      }
    });
}
