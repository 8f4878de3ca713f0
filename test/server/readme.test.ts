import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../helpers.js';

/**
 * Every `$ aigw-admission …` command the README shows in a code block, with the output shown under it (up to the next
 * `$` line or the block's end), and `$ echo $?` after it for the exit status. Commands that need a cluster are listed
 * below by what they need; every other one runs here, from the project's own files, and must print what the README
 * shows. In the README, a line `…` stands for any number of lines, and `…` inside a line for any text.
 */
interface Example {
  line: number;
  command: string;
  output: string[];
  exit?: number;
}

const NEEDS_CLUSTER = /^aigw-admission (audit|serve)\b|--route\b/;
const CLI = join(ROOT, 'dist/src/cli.js');
const HOME = mkdtempSync(join(tmpdir(), 'aigw-readme-home-'));

function examples(): Example[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n');
  const out: Example[] = [];
  let inBlock = false;
  let indent = 0;
  let current: Example | undefined;
  // A block inside a list item is indented like the item: that indentation is not part of the output.
  const unindent = (text: string) => text.slice(Math.min(indent, text.length - text.trimStart().length));
  lines.forEach((text, i) => {
    const fence = /^(\s*)```/.exec(text);
    if (fence) {
      inBlock = !inBlock;
      indent = fence[1]!.length;
      current = undefined;
      return;
    }
    if (!inBlock) return;
    const line = unindent(text);
    if (line.startsWith('$ echo $?')) return;
    if (line.startsWith('$ ')) {
      current = line.startsWith('$ aigw-admission ') ? { line: i + 1, command: line.slice(2), output: [] } : undefined;
      if (current) out.push(current);
      return;
    }
    if (!current) return;
    const previous = unindent(lines[i - 1]!);
    if (previous.startsWith('$ echo $?')) current.exit = Number(line);
    else current.output.push(line);
  });
  return out;
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The shown lines as one pattern: `…` alone is any lines, `…` in a line is any text. */
function pattern(shown: readonly string[]): RegExp {
  const body = shown.map((l) => (l.trim() === '…' ? '(?:[^\\n]*\\n)*?' : `${l.split('…').map(escape).join('[^\\n]*')}\\n`)).join('');
  return new RegExp(`^${body}$`);
}

const all = examples();
const runnable = all.filter((e) => !NEEDS_CLUSTER.test(e.command));

describe('README examples print what the README shows', () => {
  it('finds the examples, and only the cluster ones are left out', () => {
    expect(runnable.length).toBeGreaterThanOrEqual(8);
    expect(all.filter((e) => NEEDS_CLUSTER.test(e.command)).map((e) => e.command)).toEqual(['aigw-admission audit', 'aigw-admission audit --write-reports -o yaml > findings.yaml']);
  });

  for (const example of runnable) {
    it(`README.md:${example.line}: ${example.command}`, () => {
      const shell = example.command.replace(/^aigw-admission /, `"${process.execPath}" "${CLI}" `);
      const r = spawnSync('sh', ['-c', shell], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, HOME, KUBECONFIG: '', COLUMNS: '' } });
      // stdout and stderr are shown in the order a terminal would show them; either order is accepted.
      const re = pattern(example.output);
      const shown = [r.stdout + r.stderr, r.stderr + r.stdout].find((o) => re.test(o));
      expect(shown ?? `${r.stderr}${r.stdout}`).toMatch(re);
      if (example.exit !== undefined) expect(r.status).toBe(example.exit);
    });
  }
});
