import { relative, isAbsolute, sep } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type * as Sarif from 'sarif';
import type { Mode } from '../kube/types.js';
import { KUSTOMIZE_PREFIX, type SourceLocation } from '../input/manifests.js';
import { FindingCounts, TableWidths, findingsTableLines, sourceLabel, specFindings, summarize, type CheckFinding } from './check.js';

/** The output formats of every verb that prints findings (check, audit, test's own findings). */
export const FINDING_FORMATS = ['table', 'json', 'yaml', 'sarif', 'junit'] as const;
export type FindingFormat = (typeof FINDING_FORMATS)[number];

/** Which findings fail the run (exit 1): deny only (default), deny and warn, or none. */
export const FAIL_ON = ['deny', 'warn', 'never'] as const;
export type FailOn = (typeof FAIL_ON)[number];

const SEVERITY: Readonly<Record<Mode, number>> = { audit: 0, warn: 1, deny: 2 };
const CRD_POLICIES = new Set(['crd-schema', 'crd-cel']);

/** A finding after consolidation: the policies whose finding on the same field it stands for, and grouped parts. */
export type OutputFinding = CheckFinding & { also?: string[] };

/** Whether a finding fails the run under `--fail-on`. Skipped findings never do; a policy error does at its mode. */
export function fails(f: Pick<CheckFinding, 'mode' | 'result'>, failOn: FailOn): boolean {
  if (f.result === 'skip' || failOn === 'never') return false;
  return f.mode === 'deny' || (failOn === 'warn' && f.mode === 'warn');
}

/** Appends in place: copying the list on every add was quadratic in a group's size (90,000 findings in an audit). */
function appendTo<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}

const resourceKey = (f: CheckFinding) => `${f.resource.apiVersion}|${f.resource.kind}|${f.resource.namespace}|${f.resource.name}`;

/**
 * One finding per mistake, generically (whatever the policies say):
 * - a CRD finding (`crd-schema`, `crd-cel`) and a policy finding on the same field of the same object are one mistake:
 *   the more severe is kept (the policy's on a tie: it says how to fix it), and names the other in `also`;
 * - findings of one policy on one object whose paths differ only in a `backendRefs[i]` index are one finding at
 *   the paths' common prefix, their messages joined.
 */
export function consolidate(findings: readonly CheckFinding[]): OutputFinding[] {
  const out: OutputFinding[] = findings.map((f) => ({ ...f }));
  const dropped = new Set<OutputFinding>();
  const byField = new Map<string, OutputFinding[]>();
  // Only a CRD finding merges with a policy's: without one (any audit, most checks) the fields need no grouping.
  const crdFindings = out.some((f) => CRD_POLICIES.has(f.policy));
  for (const f of crdFindings ? out : []) {
    if (!f.path || f.result) continue;
    appendTo(byField, `${resourceKey(f)}|${f.path}`, f);
  }
  for (const same of byField.values()) {
    if (!same.some((f) => CRD_POLICIES.has(f.policy)) || !same.some((f) => !CRD_POLICIES.has(f.policy))) continue;
    const kept = same.reduce((best, f) =>
      SEVERITY[f.mode] > SEVERITY[best.mode] || (SEVERITY[f.mode] === SEVERITY[best.mode] && CRD_POLICIES.has(best.policy) && !CRD_POLICIES.has(f.policy)) ? f : best,
    );
    kept.also = [...new Set(same.filter((f) => f !== kept).map((f) => f.policy))];
    for (const f of same) if (f !== kept) dropped.add(f);
  }
  const groups = new Map<string, OutputFinding[]>();
  for (const f of out) {
    if (dropped.has(f) || !/\.backendRefs\[\d+\]/.test(f.path)) continue;
    appendTo(groups, `${f.policy}|${resourceKey(f)}|${f.mode}|${f.result ?? ''}`, f);
  }
  for (const group of groups.values()) {
    if (group.length < 2) continue;
    const [first, ...rest] = group;
    first!.path = commonPath(group.map((f) => f.path));
    first!.message = `${group.length} backendRefs: ${group.map((f) => f.message).join(' ')}`;
    for (const f of rest) dropped.add(f);
  }
  return out.filter((f) => !dropped.has(f));
}

/** The longest common prefix of field paths, cut at a whole segment (`spec.rules[0].x`, `spec.rules[1].y` → `spec.rules`). */
function commonPath(paths: readonly string[]): string {
  const split = (p: string) => p.split(/(?=[.[])/);
  const parts = split(paths[0]!);
  let n = parts.length;
  for (const p of paths.slice(1)) {
    const other = split(p);
    let i = 0;
    while (i < n && parts[i] === other[i]) i++;
    n = i;
  }
  return parts.slice(0, n).join('').replace(/^\./, '');
}

export interface RenderContext {
  /** Every registered policy, for SARIF's rules. */
  policies: readonly { id: string; description: string; defaultMode: Mode }[];
  version: string;
  objects: number;
  failOn: FailOn;
  /** The terminal's width, for the table. */
  width?: number;
  /** Paths in SARIF are made relative to this directory (the repository root, for code scanning). */
  cwd: string;
  /** The tool's name in SARIF and JUnit. */
  tool?: string;
}

/** What stdout gets for the findings in `format`; the table's summary line goes to stderr and is not part of it. */
export function renderFindings(format: FindingFormat, findings: readonly OutputFinding[], ctx: RenderContext): string {
  return [...findingChunks(format, findings, ctx)].join('');
}

/**
 * `renderFindings` in pieces, one finding at a time (the text of 90,000 findings of an audit was a 46 MB string, and
 * as much again as the Buffer written). The same pieces as `writeFindingBatches` writes for findings that arrive in batches.
 */
export function* findingChunks(format: FindingFormat, findings: readonly OutputFinding[], ctx: RenderContext): Generator<string> {
  const layout = new FindingsLayout();
  if (LAID_OUT.has(format)) layout.addAll(findings);
  const text = findingText(format, ctx, layout);
  if (text.head) yield text.head;
  for (let i = 0; i < findings.length; i++) yield text.finding(findings[i]!, i);
  const tail = text.tail(findings.length, ctx.objects);
  if (tail) yield tail;
}

/** Formats whose first line depends on every finding: the table (column widths), SARIF (rules), JUnit (counts). */
const LAID_OUT: ReadonlySet<FindingFormat> = new Set(['table', 'sarif', 'junit']);

/**
 * What has to be known of all the findings before the first line of the table, SARIF or JUnit, and what the summary
 * line and the exit code need after the last: counts, column widths, policy ids. Never the findings themselves.
 */
export class FindingsLayout {
  readonly counts = new FindingCounts();
  readonly table = new TableWidths();
  /** Every policy with a finding, in order of its first one (SARIF's rules for policies that are not registered). */
  readonly policies = new Set<string>();

  add(f: OutputFinding): void {
    this.counts.add(f);
    this.table.add(f);
    this.policies.add(f.policy);
  }

  addAll(findings: readonly OutputFinding[]): void {
    for (const f of findings) this.add(f);
  }
}

/** The text of a format in three parts, so that findings can be written as they come. */
interface FindingText {
  /** Before the first finding. */
  head: string;
  /** The finding at `index` (the first is 0). */
  finding(f: OutputFinding, index: number): string;
  /** After the last, `count` findings in all. */
  tail(count: number, objects: number): string;
}

/** `layout` must hold every finding for the table, SARIF and JUnit; JSON and YAML need nothing of it. */
function findingText(format: FindingFormat, ctx: Omit<RenderContext, 'objects'>, layout: FindingsLayout): FindingText {
  switch (format) {
    case 'json':
      // The same text as JSON.stringify(list, null, 2): each element indented one level, separated by ",\n".
      return {
        head: '',
        finding: (f, i) => `${i === 0 ? '[\n' : ',\n'}  ${JSON.stringify(machineFinding(f), null, 2).replaceAll('\n', '\n  ')}`,
        tail: (count) => (count === 0 ? '[]\n' : '\n]\n'),
      };
    case 'yaml':
      // A block sequence is its items' text one after the other: each item as a list of one is the whole list's text.
      return {
        head: '',
        finding: (f) => toYaml([machineFinding(f)], YAML_OPTIONS),
        tail: (count) => (count === 0 ? '[]\n' : ''),
      };
    case 'sarif':
      return sarifText(ctx, layout);
    case 'junit':
      return junitText(ctx, layout);
    default: {
      if (layout.counts.total === 0) return { head: '', finding: () => '', tail: () => '' };
      const lines = findingsTableLines(layout.table, ctx.width);
      return { head: `${lines.header}\n`, finding: (f) => `${lines.row(f)}\n`, tail: () => '' };
    }
  }
}

const YAML_OPTIONS = { lineWidth: 0, aliasDuplicateObjects: false } as const;

/** Writes the chunks to `out` in writes of about `batchBytes`, waiting for `drain` when it asks to. */
export async function writeChunks(out: NodeJS.WritableStream, chunks: Iterable<string>, batchBytes = 1 << 20): Promise<void> {
  let pending = '';
  const write = async (text: string) => {
    if (!out.write(text)) await new Promise<void>((resolve) => out.once('drain', () => resolve()));
  };
  for (const chunk of chunks) {
    pending += chunk;
    if (pending.length >= batchBytes) {
      const text = pending;
      pending = '';
      await write(text);
    }
  }
  if (pending) await write(pending);
}

/**
 * One pass over findings that arrive in batches, each holding all the findings of its objects (the audit hands over
 * one object's at a time); returns how many objects were judged. Every call judges again, from the start.
 */
export type FindingPass = () => Iterator<readonly CheckFinding[], { objects: number }>;

export interface WrittenFindings {
  /** Of the consolidated findings: what was written. */
  counts: FindingCounts;
  objects: number;
  /** How many findings were merged into another (the summary line's "duplicate findings"). */
  merged: number;
}

/**
 * What `renderFindings(format, consolidate(all), ctx)` prints, written while the findings arrive, without holding
 * them: each batch is consolidated on its own (every merge is within one object, and a batch holds all of an object's
 * findings) and written through `writeChunks`, which waits for `drain` before the next batch is asked for. JSON and
 * YAML take one pass; the table, SARIF and JUnit two: the first only lays out (widths, rules, counts), the second writes.
 * `onPass` is told before each pass whether it writes. Writes are of 16 KiB by default: text held until a 1 MiB write
 * outlived V8's young generation (1 MiB while auditing, src/cli/batch-heap.ts), and the audit of 10,000 routes peaked
 * 20-40 MB higher on that garbage alone (measured: 16 KiB and 4 KiB peak alike).
 */
export async function writeFindingBatches(
  out: NodeJS.WritableStream,
  format: FindingFormat,
  ctx: Omit<RenderContext, 'objects'>,
  pass: FindingPass,
  opts: { batchBytes?: number; onPass?: (writes: boolean) => void } = {},
): Promise<WrittenFindings> {
  const layout = new FindingsLayout();
  if (LAID_OUT.has(format)) {
    opts.onPass?.(false);
    const batches = pass();
    for (let next = batches.next(); !next.done; next = batches.next()) layout.addAll(consolidate(next.value));
  }
  const text = findingText(format, ctx, layout);
  const counts = new FindingCounts();
  const written: WrittenFindings = { counts, objects: 0, merged: 0 };
  function* chunks(): Generator<string> {
    if (text.head) yield text.head;
    const batches = pass();
    let next = batches.next();
    for (; !next.done; next = batches.next()) {
      const findings = consolidate(next.value);
      written.merged += next.value.length - findings.length;
      for (const f of findings) {
        yield text.finding(f, counts.total);
        counts.add(f);
      }
    }
    written.objects = next.value.objects;
    yield text.tail(counts.total, written.objects);
  }
  opts.onPass?.(true);
  await writeChunks(out, chunks(), opts.batchBytes ?? 16 << 10);
  return written;
}

/** A finding as `-o json|yaml` prints it. */
function machineFinding(finding: OutputFinding) {
  const f = specFindings([finding])[0]!;
  return finding.also ? { ...f, also: finding.also } : f;
}

const LEVEL: Readonly<Record<Mode, Sarif.ReportingConfiguration.level>> = { deny: 'error', warn: 'warning', audit: 'note' };

function artifactUri(file: string, cwd: string): string {
  const rel = isAbsolute(file) ? relative(cwd, file) : file;
  return rel.split(sep).join('/');
}

/** The file a result points at: the file itself; for a rendered kustomization its kustomization.yaml (no line: the render has its own); none for stdin. */
function physicalLocation(location: SourceLocation | undefined, cwd: string): Sarif.PhysicalLocation | undefined {
  if (!location || location.file === '<stdin>') return undefined;
  if (location.file.startsWith(KUSTOMIZE_PREFIX)) return { artifactLocation: { uri: `${artifactUri(location.file.slice(KUSTOMIZE_PREFIX.length), cwd)}/kustomization.yaml` } };
  return { artifactLocation: { uri: artifactUri(location.file, cwd) }, region: { startLine: location.line } };
}

/** SARIF 2.1.0 as GitHub code scanning takes it: one rule per registered policy, a physical location per result. */
export function sarifLog(findings: readonly OutputFinding[], ctx: Omit<RenderContext, 'objects'>): Sarif.Log {
  const { rules, ruleIndex } = sarifRules(ctx, findings.map((f) => f.policy));
  return sarifSkeleton(ctx, rules, findings.map((f) => sarifResult(f, ruleIndex, ctx)));
}

/** One rule per registered policy, then one per other policy with findings (`withFindings`, in order of the first). */
function sarifRules(ctx: Omit<RenderContext, 'objects'>, withFindings: Iterable<string>): { rules: Sarif.ReportingDescriptor[]; ruleIndex: Map<string, number> } {
  const ruleIndex = new Map(ctx.policies.map((p, i) => [p.id, i]));
  const extra = [...new Set([...withFindings].filter((id) => !ruleIndex.has(id)))];
  const rules: Sarif.ReportingDescriptor[] = [
    ...ctx.policies.map((p) => ({
      id: p.id,
      name: p.id,
      shortDescription: { text: p.description },
      defaultConfiguration: { level: LEVEL[p.defaultMode] },
    })),
    ...extra.map((id) => ({ id, name: id, shortDescription: { text: `Findings of ${id}.` } })),
  ];
  extra.forEach((id, i) => ruleIndex.set(id, ctx.policies.length + i));
  return { rules, ruleIndex };
}

function sarifResult(f: OutputFinding, ruleIndex: ReadonlyMap<string, number>, ctx: Omit<RenderContext, 'objects'>): Sarif.Result {
  const object = `${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}`;
  const result: Sarif.Result = {
    ruleId: f.policy,
    ruleIndex: ruleIndex.get(f.policy)!,
    level: LEVEL[f.mode],
    message: { text: `${object}${f.path ? ` ${f.path}` : ''}: ${f.message}` },
    locations: [
      {
        ...(f.location && physicalLocation(f.location, ctx.cwd) ? { physicalLocation: physicalLocation(f.location, ctx.cwd) } : {}),
        logicalLocations: [{ fullyQualifiedName: `${object}${f.path ? `:${f.path}` : ''}`, kind: 'object' }],
      },
    ],
    properties: { mode: f.mode, resource: f.resource, path: f.path, ...(f.result ? { result: f.result } : {}), ...(f.location ? { document: f.location.document } : {}) },
  };
  if (f.result === 'skip') {
    result.suppressions = [{ kind: f.exemption?.startsWith('config') ? 'external' : 'inSource', justification: f.exemption }];
  }
  return result;
}

function sarifSkeleton(ctx: Omit<RenderContext, 'objects'>, rules: Sarif.ReportingDescriptor[], results: Sarif.Result[]): Sarif.Log {
  return {
    $schema: 'https://json.schemastore.org/sarif-2.1.0.json',
    version: '2.1.0',
    runs: [
      {
        tool: { driver: { name: ctx.tool ?? 'aigw-admission', version: ctx.version, semanticVersion: ctx.version, rules } },
        results,
        columnKind: 'utf16CodeUnits',
      },
    ],
  };
}

/** The results' text as JSON.stringify(sarifLog(…), null, 2) places it: inside runs[0], each indented four levels. */
const RESULTS_MARK = '\u0000results';
const RESULTS_INDENT = ' '.repeat(8);

function sarifText(ctx: Omit<RenderContext, 'objects'>, layout: FindingsLayout): FindingText {
  const { rules, ruleIndex } = sarifRules(ctx, layout.policies);
  const skeleton = `${JSON.stringify(sarifSkeleton(ctx, rules, [RESULTS_MARK as unknown as Sarif.Result]), null, 2)}\n`;
  const placeholder = `[\n${RESULTS_INDENT}${JSON.stringify(RESULTS_MARK)}\n${RESULTS_INDENT.slice(2)}]`;
  const at = skeleton.indexOf(placeholder);
  if (at < 0) throw new Error('internal: the SARIF skeleton has no results placeholder');
  const after = skeleton.slice(at + placeholder.length);
  return {
    head: skeleton.slice(0, at),
    finding: (f, i) => `${i === 0 ? '[\n' : ',\n'}${RESULTS_INDENT}${JSON.stringify(sarifResult(f, ruleIndex, ctx), null, 2).replaceAll('\n', `\n${RESULTS_INDENT}`)}`,
    tail: (count) => `${count === 0 ? '[]' : `\n${RESULTS_INDENT.slice(2)}]`}${after}`,
  };
}

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * JUnit XML as CI test reports read it: one test case per finding (classname: the file, name: policy and object), a
 * failure when it fails the run under --fail-on, skipped when exempted, error when the policy could not run.
 */
export function junitXml(findings: readonly OutputFinding[], ctx: RenderContext): string {
  return renderFindings('junit', findings, ctx);
}

function junitText(ctx: Omit<RenderContext, 'objects'>, layout: FindingsLayout): FindingText {
  const tool = ctx.tool ?? 'aigw-admission';
  const { counts } = layout;
  const failures = counts.count((f) => f.result !== 'error' && fails(f, ctx.failOn));
  const errors = counts.count((f) => f.result === 'error');
  const skipped = counts.count((f) => f.result === 'skip');
  // A run without findings still reports one passing case, so the CI report shows that the check ran and on what.
  const attrs = `tests="${Math.max(counts.total, 1)}" failures="${failures}" errors="${errors}" skipped="${skipped}"`;
  return {
    head: `<?xml version="1.0" encoding="UTF-8"?>\n<testsuites name="${tool}" ${attrs}>\n  <testsuite name="${tool} check" ${attrs}>\n`,
    finding: (f) => `${junitCase(f, ctx.failOn)}\n`,
    tail: (count, objects) => `${count === 0 ? `    <testcase name="${xml(`${objects} objects: no findings`)}" classname="${tool}"/>\n` : ''}  </testsuite>\n</testsuites>\n`,
  };
}

function junitCase(f: OutputFinding, failOn: FailOn): string {
  const object = `${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}`;
  const name = `${f.policy}: ${object}${f.path ? ` ${f.path}` : ''}`;
  const classname = f.location ? sourceLabel(f) : object;
  const open = `    <testcase name="${xml(name)}" classname="${xml(classname)}">`;
  let body: string;
  if (f.result === 'skip') body = `      <skipped message="${xml(f.exemption ?? 'exempted')}"/>`;
  else if (f.result === 'error') body = `      <error message="${xml(f.message)}" type="policy-error"/>`;
  else if (fails(f, failOn)) body = `      <failure message="${xml(f.message)}" type="${f.mode}"/>`;
  else body = `      <system-out>${xml(`${f.mode}: ${f.message}`)}</system-out>`;
  return `${open}\n${body}\n    </testcase>`;
}

/** The summary line for stderr (table output only): counts, and how many findings were merged as one mistake. */
export function summaryLine(counts: FindingCounts, objects: number, merged: number): string {
  const line = summarize(counts, objects);
  return merged > 0 ? `${line}; ${merged} duplicate finding${merged === 1 ? '' : 's'} of the same mistake merged` : line;
}
