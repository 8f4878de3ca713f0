import { spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { AdmissionError } from '../review/errors.js';
import type { KubeObject } from '../kube/types.js';
import { CACHED_FILE_BYTES, textDigest, type ParseCache } from './parse-cache.js';

/** Where an object was read: the file (`<stdin>`, or `kustomize DIR`), the line its document starts on, and which document. */
export interface SourceLocation {
  file: string;
  /** 1-based line of the document's first line. */
  line: number;
  /** 0-based index of the YAML document within the file. */
  document: number;
  /** Index within a `kind: List` document. */
  item?: number;
}

export interface Manifest {
  object: KubeObject;
  /** `file:line` (with ` items[i]` for a List item), for messages. */
  source: string;
  location: SourceLocation;
}

export interface ReadOptions {
  /** Read subdirectories too (kubectl's -R); without it only the files directly in a directory are read. */
  recursive?: boolean;
  /** Skip a named file that holds no Kubernetes object, as one found in a directory is (pre-commit passes every changed YAML file). */
  skipNonKubernetes?: boolean;
  /** Parsed big files by content digest (CRD bundles), so they are parsed once across runs. */
  cache?: ParseCache;
}

export interface ReadResult {
  manifests: Manifest[];
  /** Files found in directories that hold no Kubernetes object (kustomization.yaml, Helm values.yaml): skipped. */
  skippedFiles: string[];
  /** Subdirectories not read because -R was not given. */
  skippedDirectories: string[];
}

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);
/** Kinds with apiVersion and kind that are build inputs, not objects the API server takes. */
const NOT_KUBERNETES_GROUPS = ['kustomize.config.k8s.io/', 'config.kubernetes.io/'];

/** An errno as words, so no message ends in a bare ENOENT. */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EISDIR':
      return 'is a directory (use -f DIR to read the files in it)';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'not a directory';
    default:
      return (err as Error).message;
  }
}

function fileError(file: string, err: unknown): AdmissionError {
  return new AdmissionError('INVALID_INPUT_FILE', `${file}: ${describeFsError(err)}`);
}

interface Listed {
  file: string;
  /** Found by listing a directory, so a file without Kubernetes objects is skipped rather than an error. */
  listed: boolean;
}

function expand(path: string, recursive: boolean, skippedDirectories: string[], listed = false): Listed[] {
  let stat;
  try {
    stat = statSync(path);
  } catch (err) {
    throw fileError(path, err);
  }
  if (!stat.isDirectory()) return [{ file: path, listed }];
  return readdirSync(path, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((e) => {
      const child = join(path, e.name);
      if (e.isDirectory()) {
        if (recursive) return expand(child, recursive, skippedDirectories, true);
        skippedDirectories.push(child);
        return [];
      }
      return MANIFEST_EXTENSIONS.has(extname(e.name)) ? [{ file: child, listed: true }] : [];
    });
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) line++;
  return line;
}

const isKubernetesObject = (value: unknown): value is KubeObject =>
  !!value &&
  typeof value === 'object' &&
  !Array.isArray(value) &&
  typeof (value as KubeObject).apiVersion === 'string' &&
  typeof (value as KubeObject).kind === 'string' &&
  !NOT_KUBERNETES_GROUPS.some((g) => String((value as KubeObject).apiVersion).startsWith(g));

/**
 * Multi-document YAML or JSON (JSON is YAML); `kind: List` is flattened; empty documents are skipped. With `lenient`
 * (a file found in a directory), a file in which no document is a Kubernetes object yields nothing instead of an error.
 */
export function parseManifests(text: string, file: string, lenient = false): Manifest[] {
  const out: Manifest[] = [];
  const documents = parseAllDocuments(text, { prettyErrors: true });
  const docs = Array.isArray(documents) ? documents : [];
  let foreign: string | undefined;
  docs.forEach((doc, document) => {
    if (doc.errors.length > 0) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line ?? lineOf(text, e.pos[0]);
      // The yaml library's first line ends in "at line L, column C:" before a code excerpt: keep the sentence only.
      const message = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
      throw new AdmissionError('INVALID_INPUT_FILE', `${file}:${line}: not valid YAML: ${message}`);
    }
    const value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    if (value === null || value === undefined) return;
    // The document's content, not its `---` marker or leading comments: where an editor should jump to.
    const line = lineOf(text, doc.contents?.range?.[0] ?? doc.range[0]);
    const location: SourceLocation = { file, line, document };
    if (!isKubernetesObject(value)) {
      foreign ??= `${file}:${line}: ${
        value && typeof value === 'object' && !Array.isArray(value)
          ? 'not a Kubernetes object: apiVersion and kind must be strings'
          : 'a document must be a Kubernetes object (a mapping with apiVersion and kind)'
      }`;
      return;
    }
    const obj = value;
    if (obj.kind === 'List' || (obj.kind!.endsWith('List') && Array.isArray(obj.items))) {
      const items = Array.isArray(obj.items) ? obj.items : [];
      items.forEach((item: unknown, i: number) => {
        const source = `${file}:${line} items[${i}]`;
        if (!isKubernetesObject(item)) throw new AdmissionError('INVALID_INPUT_FILE', `${source}: not a Kubernetes object: apiVersion and kind must be strings`);
        out.push({ object: item, source, location: { ...location, item: i } });
      });
      return;
    }
    out.push({ object: obj, source: `${file}:${line}`, location });
  });
  // A file named on the command line must hold only objects; one found in a directory may be something else entirely.
  if (foreign && !(lenient && out.length === 0)) throw new AdmissionError('INVALID_INPUT_FILE', foreign);
  return out;
}

function readText(file: string): string {
  try {
    return readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    throw fileError(file === '-' ? '<stdin>' : file, err);
  }
}

/** parseManifests, through the cache for big files; only files that hold objects are cached (errors are parsed again). */
function parseCached(text: string, file: string, lenient: boolean, cache: ParseCache | undefined): Manifest[] {
  if (!cache || text.length < CACHED_FILE_BYTES) return parseManifests(text, file, lenient);
  const digest = textDigest(text);
  const hit = cache.get(digest);
  if (hit) {
    return hit.map(({ object, line, document, item }) => ({
      object,
      source: `${file}:${line}${item !== undefined ? ` items[${item}]` : ''}`,
      location: { file, line, document, ...(item !== undefined ? { item } : {}) },
    }));
  }
  const found = parseManifests(text, file, lenient);
  if (found.length > 0) cache.set(digest, found.map(({ object, location: { file: _file, ...at } }) => ({ object, ...at })));
  return found;
}

/** Reads files and directories (*.yaml, *.yml, *.json; subdirectories with `recursive`); `-` is stdin. */
export function readManifestFiles(paths: readonly string[], opts: ReadOptions = {}): ReadResult {
  const result: ReadResult = { manifests: [], skippedFiles: [], skippedDirectories: [] };
  for (const p of paths) {
    const files = p === '-' ? [{ file: '-', listed: false }] : expand(p, opts.recursive === true, result.skippedDirectories);
    for (const { file, listed } of files) {
      const lenient = listed || (opts.skipNonKubernetes === true && file !== '-');
      const found = parseCached(readText(file), file === '-' ? '<stdin>' : file, lenient, opts.cache);
      if (lenient && found.length === 0) result.skippedFiles.push(file);
      result.manifests.push(...found);
    }
  }
  return result;
}

/** The objects only, recursively (CRD directories, tests). */
export function readManifests(paths: readonly string[], opts: ReadOptions = { recursive: true }): Manifest[] {
  return readManifestFiles(paths, opts).manifests;
}

/** The file label of objects rendered from a kustomization: `kustomize DIR`. */
export const KUSTOMIZE_PREFIX = 'kustomize ';

/** `kubectl kustomize DIR`, as `-k DIR`: the rendered objects, their file named `kustomize DIR`. */
export function readKustomization(dir: string, kubectl = 'kubectl'): Manifest[] {
  const r = spawnSync(kubectl, ['kustomize', dir], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (r.error) {
    const missing = (r.error as NodeJS.ErrnoException).code === 'ENOENT';
    throw new AdmissionError(
      'INVALID_INPUT_FILE',
      missing
        ? `-k ${dir}: kubectl is not on PATH, and -k renders with kubectl kustomize. Install kubectl, or render it yourself: kustomize build ${dir} | aigw-admission check -f -`
        : `-k ${dir}: kubectl kustomize could not run: ${describeFsError(r.error)}`,
    );
  }
  if (r.status !== 0) {
    throw new AdmissionError('INVALID_INPUT_FILE', `-k ${dir}: kubectl kustomize failed: ${r.stderr.trim().split('\n').slice(-3).join(' ')}`);
  }
  return parseManifests(r.stdout, `${KUSTOMIZE_PREFIX}${dir}`);
}

/** The notes a reader of the manifests prints on stderr: what it skipped, so nothing goes unseen. */
export function readNotes(r: Pick<ReadResult, 'skippedFiles' | 'skippedDirectories'>): string[] {
  const notes: string[] = [];
  if (r.skippedFiles.length > 0) {
    notes.push(`skipped ${r.skippedFiles.length} file${r.skippedFiles.length === 1 ? '' : 's'} with no Kubernetes objects: ${r.skippedFiles.join(', ')}`);
  }
  if (r.skippedDirectories.length > 0) {
    notes.push(`did not read ${r.skippedDirectories.length} subdirector${r.skippedDirectories.length === 1 ? 'y' : 'ies'} (use -R to read them): ${r.skippedDirectories.join(', ')}`);
  }
  return notes;
}

/** What `-f`, `-R` and `-k` name, read like kubectl: files, directories, stdin and rendered kustomizations. */
export function readInputs(
  o: { file?: readonly string[]; kustomize?: readonly string[]; recursive?: boolean; skipNonKubernetes?: boolean },
  opts: { kubectl?: string; cache?: ParseCache } = {},
): ReadResult {
  const result = readManifestFiles(o.file ?? [], { recursive: o.recursive, skipNonKubernetes: o.skipNonKubernetes, cache: opts.cache });
  for (const dir of o.kustomize ?? []) result.manifests.push(...readKustomization(dir, opts.kubectl));
  return result;
}
