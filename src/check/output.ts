import { relative, isAbsolute, sep } from 'node:path';
import { stringify as toYaml } from 'yaml';
import type * as Sarif from 'sarif';
import type { Mode } from '../kube/types.js';
import { KUSTOMIZE_PREFIX, type SourceLocation } from '../input/manifests.js';
import { formatFindingsTable, sourceLabel, specFindings, summarize, type CheckFinding } from './check.js';

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
export function fails(f: CheckFinding, failOn: FailOn): boolean {
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
 * `renderFindings` in pieces: JSON one finding at a time (the text of 90,000 findings of an audit was a 46 MB string
 * and as much again as the Buffer written), the other formats whole.
 */
export function* findingChunks(format: FindingFormat, findings: readonly OutputFinding[], ctx: RenderContext): Generator<string> {
  if (format !== 'json') {
    yield renderWhole(format, findings, ctx);
    return;
  }
  if (findings.length === 0) {
    yield '[]\n';
    return;
  }
  // The same text as JSON.stringify(list, null, 2): each element indented one level, separated by ",\n".
  const machine = machineFindings(findings);
  for (let i = 0; i < machine.length; i++) {
    yield `${i === 0 ? '[\n' : ',\n'}  ${JSON.stringify(machine[i], null, 2).replaceAll('\n', '\n  ')}`;
  }
  yield '\n]\n';
}

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

function renderWhole(format: Exclude<FindingFormat, 'json'>, findings: readonly OutputFinding[], ctx: RenderContext): string {
  switch (format) {
    case 'yaml':
      return findings.length === 0 ? '[]\n' : toYaml(machineFindings(findings), { lineWidth: 0, aliasDuplicateObjects: false });
    case 'sarif':
      return `${JSON.stringify(sarifLog(findings, ctx), null, 2)}\n`;
    case 'junit':
      return junitXml(findings, ctx);
    default:
      return findings.length > 0 ? formatFindingsTable(findings, ctx.width) : '';
  }
}

function machineFindings(findings: readonly OutputFinding[]) {
  return specFindings(findings).map((f, i) => (findings[i]!.also ? { ...f, also: findings[i]!.also } : f));
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
export function sarifLog(findings: readonly OutputFinding[], ctx: RenderContext): Sarif.Log {
  const ruleIndex = new Map(ctx.policies.map((p, i) => [p.id, i]));
  const extra = [...new Set(findings.map((f) => f.policy).filter((id) => !ruleIndex.has(id)))];
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
  const results: Sarif.Result[] = findings.map((f) => {
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
  });
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

const xml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/**
 * JUnit XML as CI test reports read it: one test case per finding (classname: the file, name: policy and object), a
 * failure when it fails the run under --fail-on, skipped when exempted, error when the policy could not run.
 */
export function junitXml(findings: readonly OutputFinding[], ctx: RenderContext): string {
  const cases = findings.map((f) => {
    const object = `${f.resource.kind} ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}`;
    const name = `${f.policy}: ${object}${f.path ? ` ${f.path}` : ''}`;
    const classname = f.location ? sourceLabel(f) : object;
    const open = `    <testcase name="${xml(name)}" classname="${xml(classname)}">`;
    let body: string;
    if (f.result === 'skip') body = `      <skipped message="${xml(f.exemption ?? 'exempted')}"/>`;
    else if (f.result === 'error') body = `      <error message="${xml(f.message)}" type="policy-error"/>`;
    else if (fails(f, ctx.failOn)) body = `      <failure message="${xml(f.message)}" type="${f.mode}"/>`;
    else body = `      <system-out>${xml(`${f.mode}: ${f.message}`)}</system-out>`;
    return `${open}\n${body}\n    </testcase>`;
  });
  const failures = findings.filter((f) => f.result !== 'error' && fails(f, ctx.failOn)).length;
  const errors = findings.filter((f) => f.result === 'error').length;
  const skipped = findings.filter((f) => f.result === 'skip').length;
  // A run without findings still reports one passing case, so the CI report shows that the check ran and on what.
  if (cases.length === 0) cases.push(`    <testcase name="${xml(`${ctx.objects} objects: no findings`)}" classname="${ctx.tool ?? 'aigw-admission'}"/>`);
  const counts = `tests="${cases.length}" failures="${failures}" errors="${errors}" skipped="${skipped}"`;
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${ctx.tool ?? 'aigw-admission'}" ${counts}>`,
    `  <testsuite name="${ctx.tool ?? 'aigw-admission'} check" ${counts}>`,
    ...cases,
    '  </testsuite>',
    '</testsuites>',
    '',
  ].join('\n');
}

/** The summary line for stderr (table output only): counts, and how many findings were merged as one mistake. */
export function summaryLine(findings: readonly OutputFinding[], objects: number, merged: number): string {
  const line = summarize({ findings: [...findings], objects });
  return merged > 0 ? `${line}; ${merged} duplicate finding${merged === 1 ? '' : 's'} of the same mistake merged` : line;
}
