/** The output block `check` and `audit` share: notes, the findings (table, JSON or YAML) and the summary line. */
import { stringify as toYaml } from 'yaml';
import { formatFindingsTable, specFindings, summarize, type CheckResult } from '../check/check.js';
import { EXIT } from './common.js';

export type FindingsFormat = 'table' | 'json' | 'yaml';

/**
 * Notes on stderr, the findings on stdout (a table only when there are some), and for tables the summary on stderr.
 * Returns the exit code: 1 when a finding is at mode deny.
 */
export function printFindings(result: CheckResult, output: FindingsFormat): number {
  for (const n of result.notes) process.stderr.write(`note: ${n}\n`);
  if (output === 'json') process.stdout.write(`${JSON.stringify(specFindings(result.findings), null, 2)}\n`);
  else if (output === 'yaml') process.stdout.write(toYaml(specFindings(result.findings), { lineWidth: 0, aliasDuplicateObjects: false }));
  else if (result.findings.length > 0) {
    process.stdout.write(formatFindingsTable(result.findings, process.stdout.isTTY ? process.stdout.columns : undefined));
  }
  if (output === 'table') process.stderr.write(`${summarize(result)}\n`);
  return result.findings.some((f) => f.mode === 'deny') ? EXIT.denied : EXIT.ok;
}
