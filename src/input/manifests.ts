import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AdmissionError } from '../review/errors.js';
import type { KubeObject } from '../kube/types.js';

export interface Manifest {
  object: KubeObject;
  /** `file:line` of the document, for messages. */
  source: string;
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

function expand(path: string): string[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw new AdmissionError('INVALID_INPUT_FILE', `${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (!stat.isDirectory()) return [path];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => (e.isDirectory() ? expand(join(path, e.name)) : MANIFEST_EXTENSIONS.has(extname(e.name)) ? [join(path, e.name)] : []));
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

/** Multi-document YAML or JSON (JSON is YAML); `kind: List` is flattened; empty documents are skipped. */
export function parseManifests(text: string, file: string): Manifest[] {
  const out: Manifest[] = [];
  for (const doc of parseAllDocuments(text, { prettyErrors: true })) {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line ?? lineOf(text, e.pos[0]);
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}:${line}: not valid YAML: ${e.message.split('\n')[0]}`);
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) continue;
    const line = lineOf(text, doc.range[0]);
    if (typeof value !== 'object' || Array.isArray(value)) {
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}:${line}: a document must be a Kubernetes object (a mapping with apiVersion and kind)`);
    }
    const obj = value as KubeObject;
    if (obj.kind === 'List' || (typeof obj.kind === 'string' && obj.kind.endsWith('List') && Array.isArray(obj.items))) {
      const items = Array.isArray(obj.items) ? obj.items : [];
      items.forEach((item: unknown, i: number) => out.push(checked(item, `${file}:${line} items[${i}]`)));
      continue;
    }
    out.push(checked(obj, `${file}:${line}`));
  }
  return out;
}

function checked(value: unknown, source: string): Manifest {
  const obj = value as KubeObject;
  if (!obj || typeof obj !== 'object' || typeof obj.apiVersion !== 'string' || typeof obj.kind !== 'string') {
    throw new AdmissionError('INVALID_INPUT_FILE', `${source}: not a Kubernetes object: apiVersion and kind must be strings`);
  }
  return { object: obj, source };
}

/** Reads files and directories (recursively, *.yaml, *.yml, *.json); `-` is stdin. */
export function readManifests(paths: readonly string[]): Manifest[] {
  const out: Manifest[] = [];
  for (const p of paths) {
    const files = p === '-' ? ['-'] : expand(p);
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file === '-' ? 0 : file, 'utf8');
      } catch (err) {
        throw new AdmissionError('INVALID_INPUT_FILE', `${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      out.push(...parseManifests(text, file === '-' ? '<stdin>' : file));
    }
  }
  return out;
}
