/**
 * The import rules of ARCHITECTURE.md, read from the import statements of src/ and policies/: the doors import the
 * core, the policies and the world; policies import the policy contract, the model and kube; the model imports only
 * kube; kube imports nothing of ours; nothing but a door imports a door; @kubernetes/client-node comes in through
 * src/kube/client.ts only, and only on the way to a cluster.
 */
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT } from './helpers.js';

interface Import {
  from: string;
  /** Project-relative path of the imported file (`.ts`), or the package name. */
  to: string;
  /** `import type`, or only `type` specifiers: erased from the JavaScript. */
  typeOnly: boolean;
  /** `await import(...)`: loaded when the code runs, not with the module. */
  dynamic: boolean;
}

function sources(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sources(path);
    return name.endsWith('.ts') && !name.endsWith('.d.ts') ? [path] : [];
  });
}

function importsOf(file: string): Import[] {
  const text = readFileSync(join(ROOT, file), 'utf8');
  const target = (spec: string) => (spec.startsWith('.') ? relative(ROOT, resolve(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts') : spec);
  const out: Import[] = [];
  for (const m of text.matchAll(/^(import|export)\s+(type\s+)?([^;]*?)\s+from\s+'([^']+)'/gms)) {
    const specifiers = /\{([^}]*)\}/.exec(m[3]!)?.[1]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
    const onlyTypes = !/^\s*\w+\s*(,|$)/.test(m[3]!) && !m[3]!.includes('*') && specifiers.length > 0 && specifiers.every((s) => s.startsWith('type '));
    out.push({ from: file, to: target(m[4]!), typeOnly: Boolean(m[2]) || onlyTypes, dynamic: false });
  }
  for (const m of text.matchAll(/^import\s+'([^']+)'/gm)) out.push({ from: file, to: target(m[1]!), typeOnly: false, dynamic: false });
  for (const m of text.matchAll(/import\(\s*'([^']+)'\s*\)/g)) out.push({ from: file, to: target(m[1]!), typeOnly: false, dynamic: true });
  return out;
}

const FILES = [...sources('src'), ...sources('policies')];
const IMPORTS = FILES.flatMap(importsOf);
const ours = (i: Import) => i.to.startsWith('src/') || i.to.startsWith('policies/');
const under = (path: string, ...rooms: string[]) => rooms.some((r) => (r.endsWith('.ts') ? path === r : path.startsWith(`${r}/`)));
const show = (xs: Import[]) => xs.map((i) => `${i.from} -> ${i.to}`);

/** Our files that load with the CLI, whatever the verb: the static imports from src/cli.ts, transitively. */
function loadedWithCli(): Set<string> {
  const loaded = new Set<string>();
  const visit = (file: string) => {
    if (loaded.has(file)) return;
    loaded.add(file);
    for (const i of IMPORTS) if (i.from === file && ours(i) && !i.typeOnly && !i.dynamic) visit(i.to);
  };
  visit('src/cli.ts');
  // src/cli.ts loads the program with import() on every run, after it has set the audit's heap (src/cli/batch-heap.ts).
  visit('src/cli/program.ts');
  return loaded;
}

/** The doors: the CLI, the webhook server and the audit. */
const DOORS = ['src/cli.ts', 'src/cli', 'src/server', 'src/audit'];

describe('import rules (ARCHITECTURE.md)', () => {
  it('reads the imports it checks', () => {
    expect(IMPORTS.length).toBeGreaterThan(300);
    expect(IMPORTS).toContainEqual({ from: 'src/cli.ts', to: 'src/cli/program.ts', typeOnly: false, dynamic: true });
    expect(IMPORTS).toContainEqual({ from: 'src/cli/audit.ts', to: 'src/audit/run.ts', typeOnly: false, dynamic: true });
    expect(IMPORTS).toContainEqual({ from: 'src/world/world.ts', to: 'src/kube/types.ts', typeOnly: true, dynamic: false });
    // Every relative import names a file that exists.
    expect(IMPORTS.filter((i) => ours(i) && !FILES.includes(i.to)).map((i) => `${i.from} -> ${i.to}`)).toEqual([]);
  });

  it('kube imports nothing of ours', () => {
    expect(show(IMPORTS.filter((i) => under(i.from, 'src/kube') && ours(i) && !under(i.to, 'src/kube')))).toEqual([]);
  });

  it('the CEL evaluator imports nothing of ours', () => {
    expect(show(IMPORTS.filter((i) => under(i.from, 'src/cel') && ours(i) && !under(i.to, 'src/cel')))).toEqual([]);
  });

  it('the model imports only kube', () => {
    expect(show(IMPORTS.filter((i) => under(i.from, 'src/model') && ours(i) && !under(i.to, 'src/model', 'src/kube')))).toEqual([]);
  });

  it('policies import only the policy contract, the model and kube', () => {
    // The contract includes text.ts (quoting user values in messages); src/cel/ is the CEL evaluator; src/vap/forms.ts
    // holds the CEL form a policy declares (its ValidatingAdmissionPolicy twin), built from the model only.
    const allowed = ['policies', 'src/review/policy.ts', 'src/review/text.ts', 'src/model', 'src/kube', 'src/cel', 'src/vap/forms.ts'];
    expect(show(IMPORTS.filter((i) => under(i.from, 'policies') && ours(i) && !under(i.to, ...allowed)))).toEqual([]);
  });

  it('nothing but a door imports a door', () => {
    expect(show(IMPORTS.filter((i) => !under(i.from, ...DOORS) && under(i.to, ...DOORS)))).toEqual([]);
  });

  it('@kubernetes/client-node comes in through src/kube/client.ts only', () => {
    expect(show(IMPORTS.filter((i) => i.to === '@kubernetes/client-node' && i.from !== 'src/kube/client.ts'))).toEqual([]);
  });

  it('and lazily: nothing loaded with the CLI loads it (serve --standalone, review, check offline and certs never do)', () => {
    const loaded = loadedWithCli();
    expect(loaded.size).toBeGreaterThan(20);
    expect([...loaded].filter((f) => IMPORTS.some((i) => i.from === f && i.to === '@kubernetes/client-node')).sort()).toEqual([]);
    expect(loaded.has('src/kube/client.ts')).toBe(false);
  });

  it("the server's packages load with serve and certs only, ajv on the first schema compile, not with the CLI (a warm pre-commit check spares about 0.4 s of CPU)", () => {
    const loaded = loadedWithCli();
    const packages = IMPORTS.filter((i) => loaded.has(i.from) && !ours(i) && !i.typeOnly && !i.dynamic).map((i) => i.to);
    expect(packages).toContain('yaml');
    expect(packages.filter((p) => ['express', 'prom-client', 'node-forge', 'pino'].includes(p) || p.startsWith('ajv'))).toEqual([]);
    // ajv comes in through src/kube/ajv.ts only, which loads it when a schema is compiled.
    expect(show(IMPORTS.filter((i) => i.to.startsWith('ajv') && !i.typeOnly && i.from !== 'src/kube/ajv.ts'))).toEqual([]);
  });
});
