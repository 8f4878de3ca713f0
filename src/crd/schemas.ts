import type { Ajv, ErrorObject, ValidateFunction } from 'ajv';
import { ajvLibrary, ajvStandalone } from '../kube/ajv.js';
import type { FindingDraft, KubeObject } from '../kube/types.js';
import { childPath, jsonTypeName, pointerToFieldPath, quoteValue } from './paths.js';
import { CrdRules } from './rules.js';
import { splitApiVersion } from '../kube/request.js';
import { FORMATS_SPECIFIER, addKubernetesFormats } from './formats.js';
import { loadValidator, validatorKey, type LoadedValidator, type ValidatorCache } from './validator-cache.js';

/** A Kubernetes structural schema node (OpenAPI v3 subset with the `x-kubernetes-*` extensions). */
export interface SchemaNode {
  type?: string;
  format?: string;
  nullable?: boolean;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, SchemaNode>;
  additionalProperties?: boolean | SchemaNode;
  items?: SchemaNode;
  required?: string[];
  allOf?: SchemaNode[];
  anyOf?: SchemaNode[];
  oneOf?: SchemaNode[];
  not?: SchemaNode;
  maximum?: number;
  minimum?: number;
  exclusiveMaximum?: boolean | number;
  exclusiveMinimum?: boolean | number;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  'x-kubernetes-embedded-resource'?: boolean;
  'x-kubernetes-list-type'?: 'atomic' | 'set' | 'map';
  'x-kubernetes-list-map-keys'?: string[];
  'x-kubernetes-validations'?: ValidationRule[];
  [k: string]: unknown;
}

export interface ValidationRule {
  rule: string;
  message?: string;
  messageExpression?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
  fieldPath?: string;
  optionalOldSelf?: boolean;
}

export interface CrdVersion {
  group: string;
  kind: string;
  version: string;
  served: boolean;
  namespaced: boolean;
  statusSubresource: boolean;
  schema: SchemaNode;
}

/** What checking one object against its CRD found. */
export interface SchemaCheck {
  /** OpenAPI schema problems (policy `crd-schema`). */
  schema: FindingDraft[];
  /** Failed `x-kubernetes-validations` rules (policy `crd-cel`). */
  rules: FindingDraft[];
  /** Rules that could not be run offline: not the object's fault, said once on stderr. */
  notes: string[];
  /** The object as the API server would store it: nulls pruned, schema defaults applied, status dropped. */
  object: KubeObject;
}

export const NOT_CHECKED =
  'some validation rules were not checked because the object was invalid; correct the existing errors to complete validation';

/**
 * Validators built from CustomResourceDefinitions (apiextensions.k8s.io/v1, as `kubectl get crd -o yaml` writes them).
 * The seam for the cluster: pass the CRD objects the API server lists instead of files. Each CRD version is compiled
 * once, on first use, or taken from `cache` (compiled validators kept between runs, keyed by the translated schema).
 */
export class CrdSchemas {
  private readonly versions = new Map<string, CrdVersion>();
  private readonly servedVersions = new Map<string, string[]>();
  private readonly compiled = new Map<string, SchemaValidator>();
  private ajvInstance: Ajv | undefined;
  private readonly rules = new CrdRules();
  private readonly cache: ValidatorCache | undefined;

  constructor(crds: readonly KubeObject[], opts: { cache?: ValidatorCache } = {}) {
    this.cache = opts.cache;
    for (const crd of crds) {
      if (crd.kind !== 'CustomResourceDefinition' || !String(crd.apiVersion).startsWith('apiextensions.k8s.io/')) continue;
      const spec = crd.spec as {
        group?: string;
        scope?: string;
        names?: { kind?: string };
        versions?: { name: string; served?: boolean; schema?: { openAPIV3Schema?: SchemaNode }; subresources?: { status?: unknown } }[];
      };
      const group = spec?.group;
      const kind = spec?.names?.kind;
      if (!group || !kind || !Array.isArray(spec.versions)) continue;
      for (const v of spec.versions) {
        if (!v.schema?.openAPIV3Schema) continue;
        this.versions.set(versionKey(group, kind, v.name), {
          group,
          kind,
          version: v.name,
          served: v.served !== false,
          namespaced: spec.scope !== 'Cluster',
          statusSubresource: v.subresources?.status !== undefined,
          schema: v.schema.openAPIV3Schema,
        });
        if (v.served !== false) this.servedVersions.set(`${group}/${kind}`, [...(this.servedVersions.get(`${group}/${kind}`) ?? []), v.name]);
      }
    }
  }

  /** `group/Kind` of every CRD given. */
  kinds(): string[] {
    return [...new Set([...this.versions.values()].map((v) => `${v.group}/${v.kind}`))];
  }

  knows(group: string, kind: string): boolean {
    return [...this.versions.values()].some((v) => v.group === group && v.kind === kind);
  }

  /** Namespaced or cluster-scoped, when a CRD for the kind was given. */
  namespaced(group: string, kind: string): boolean | undefined {
    for (const v of this.versions.values()) if (v.group === group && v.kind === kind) return v.namespaced;
    return undefined;
  }

  /** Checks an object of a kind some CRD defines; undefined when no CRD was given for its kind. */
  check(object: KubeObject): SchemaCheck | undefined {
    const [group, version] = splitApiVersion(String(object.apiVersion));
    const kind = String(object.kind);
    if (!this.knows(group, kind)) return undefined;
    const crd = this.versions.get(versionKey(group, kind, version));
    const served = this.servedVersions.get(`${group}/${kind}`) ?? [];
    if (!crd || !crd.served) {
      return {
        schema: [
          {
            path: 'apiVersion',
            message: `no matches for kind "${kind}" in version "${object.apiVersion}": the CRD serves ${served.map((v) => `${group}/${v}`).join(', ') || 'no version'}; use one of those`,
          },
        ],
        rules: [],
        notes: [],
        object,
      };
    }
    const stored = structuredClone(object);
    if (crd.statusSubresource) delete stored.status;
    normalize(crd.schema, stored, true);

    const schema: FindingDraft[] = [];
    const errors = this.validator(crd)(stored);
    if (errors.length > 0) schema.push(...describeErrors(errors, stored, crd));
    if (!stored.metadata?.name && !stored.metadata?.generateName) {
      schema.push({ path: 'metadata.name', message: 'Required value: name or generateName is required' });
    }
    schema.push(...listUniqueness(crd.schema, stored, ''));

    const result: SchemaCheck = { schema, rules: [], notes: [], object: stored };
    // Like the API server: a wrong type or an unsupported enum value would make rules misfire, so they are not run.
    if (schema.some((f) => f.message.startsWith('Unsupported value:') || f.message.includes(' must be of type '))) {
      result.rules.push({ path: '', message: `Invalid value: "null": ${NOT_CHECKED}` });
      return result;
    }
    const { findings, notes } = this.rules.evaluate(crd.schema, stored);
    result.rules = findings;
    result.notes = notes;
    return result;
  }

  /** Made on the first compile: when every validator comes from the cache, ajv is never loaded. */
  private get ajv(): Ajv {
    this.ajvInstance ??= crdAjv();
    return this.ajvInstance;
  }

  private validator(crd: CrdVersion): SchemaValidator {
    const key = versionKey(crd.group, crd.kind, crd.version);
    let fn = this.compiled.get(key);
    if (!fn) {
      fn = this.compile(crd);
      this.compiled.set(key, fn);
    }
    return fn;
  }

  /**
   * Without a cache, ajv compiles the schema. With one, a hit loads the generated code (and V8's compiled form of it);
   * a miss, or an entry that does not load, is compiled, and the entry (re)written once the validator has run, when V8
   * has compiled it too.
   */
  private compile(crd: CrdVersion): SchemaValidator {
    const schema = toAjvSchema(crd.schema, true);
    if (!this.cache) return errorsOf(this.ajv.compile(schema));
    const cache = this.cache;
    const key = validatorKey(schema);
    const hit = cache.get(key);
    const fromCache = hit && loadOrUndefined(hit.code, hit.v8);
    if (fromCache && !fromCache.compiledHere) return errorsOf(fromCache.validate);
    let code: string;
    let loaded: LoadedValidator;
    if (fromCache) {
      code = hit.code;
      loaded = fromCache;
    } else {
      const compiled = this.ajv.compile(schema);
      try {
        code = ajvStandalone()(this.ajv, compiled);
        loaded = loadValidator(code);
      } catch {
        // Code that cannot be generated or does not load (not seen so far) costs the cache, never a result.
        return errorsOf(compiled);
      }
    }
    const run = errorsOf(loaded.validate);
    let written = false;
    return (data) => {
      const errors = run(data);
      if (!written) {
        written = true;
        cache.set(key, { code, v8: loaded.v8Data() });
      }
      return errors;
    };
  }
}

function loadOrUndefined(code: string, v8?: Uint8Array): LoadedValidator | undefined {
  try {
    return loadValidator(code, v8);
  } catch {
    return undefined;
  }
}

/** Runs a compiled schema: the errors (ajv's), none when the data is valid. */
type SchemaValidator = (data: unknown) => ErrorObject[];

function errorsOf(validate: ValidateFunction): SchemaValidator {
  return (data) => (validate(data) ? [] : [...(validate.errors ?? [])]);
}

/** The ajv every CRD schema is compiled with (exported for the cache tests, which compile a schema afresh). */
export function crdAjv(): Ajv {
  // Unoptimised code compiles about twice as fast; CRD schemas are large (EnvoyProxy: seconds) and each runs a few times.
  // The source is kept for the cache (ajv's standalone code), which names the non-RegExp formats by FORMATS_SPECIFIER.
  // Changing these options changes the generated code: bump VALIDATOR_FORMAT (validator-cache.ts).
  const { Ajv, _ } = ajvLibrary();
  const ajv = new Ajv({
    allErrors: true,
    strict: false,
    validateFormats: true,
    code: { optimize: false, source: true, formats: _`require(${FORMATS_SPECIFIER})` },
  });
  addKubernetesFormats(ajv);
  return ajv;
}

function versionKey(group: string, kind: string, version: string): string {
  return `${group}/${kind}/${version}`;
}

export { splitApiVersion };

/**
 * What the API server does before validating: drops `null` where the schema does not allow it (pruning) and fills in
 * schema defaults, recursively.
 */
function normalize(schema: SchemaNode | undefined, value: unknown, root = false): void {
  if (!schema || value === null || typeof value !== 'object') return;
  if (Array.isArray(value)) {
    for (const item of value) normalize(schema.items, item);
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    if (root && name === 'metadata') continue;
    if (obj[name] === null && !prop.nullable) delete obj[name];
    if (obj[name] === undefined && prop.default !== undefined) obj[name] = structuredClone(prop.default);
    normalize(prop, obj[name]);
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    for (const key of Object.keys(obj)) if (!schema.properties?.[key]) normalize(schema.additionalProperties, obj[key]);
  }
}

/** Translates a structural schema into a JSON Schema ajv runs, with Kubernetes' meaning for each extension. */
export function toAjvSchema(node: SchemaNode, root = false): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const intOrString = node['x-kubernetes-int-or-string'] === true;
  if (intOrString) out.type = node.nullable ? ['integer', 'string', 'null'] : ['integer', 'string'];
  else if (node.type) out.type = node.nullable ? [node.type, 'null'] : node.type;
  for (const k of ['enum', 'pattern', 'maxLength', 'minLength', 'maxItems', 'minItems', 'maxProperties', 'minProperties', 'multipleOf', 'uniqueItems', 'required', 'format'] as const) {
    if (node[k] !== undefined) out[k] = node[k];
  }
  if (Array.isArray(out.enum) && node.nullable && !out.enum.includes(null)) out.enum = [...out.enum, null];
  // OpenAPI 3.0's boolean exclusiveMaximum/Minimum modify maximum/minimum; JSON Schema 7 wants the bound itself.
  if (node.maximum !== undefined) out[node.exclusiveMaximum === true ? 'exclusiveMaximum' : 'maximum'] = node.maximum;
  if (node.minimum !== undefined) out[node.exclusiveMinimum === true ? 'exclusiveMinimum' : 'minimum'] = node.minimum;
  for (const k of ['allOf', 'anyOf', 'oneOf'] as const) if (node[k]) out[k] = node[k]!.map((s) => toAjvSchema(s));
  if (node.not) out.not = toAjvSchema(node.not);
  if (node.items) out.items = toAjvSchema(node.items);

  const properties: Record<string, unknown> = {};
  for (const [name, prop] of Object.entries(node.properties ?? {})) {
    // The API server validates the root metadata itself (ObjectMeta), not with the CRD's schema.
    properties[name] = root && name === 'metadata' ? { type: 'object' } : toAjvSchema(prop);
  }
  if (node['x-kubernetes-embedded-resource']) {
    properties.apiVersion ??= { type: 'string' };
    properties.kind ??= { type: 'string' };
    properties.metadata ??= { type: 'object' };
  }
  if (Object.keys(properties).length > 0) out.properties = properties;
  const isObject = node.type === 'object' || node.properties !== undefined;
  if (typeof node.additionalProperties === 'object') out.additionalProperties = toAjvSchema(node.additionalProperties);
  else if (isObject && node.additionalProperties !== true && node['x-kubernetes-preserve-unknown-fields'] !== true) {
    // Structural schemas prune unknown fields; with fieldValidation=Strict (kubectl's default) they are errors.
    out.additionalProperties = false;
  }
  return out;
}

function valueAt(data: unknown, pointer: string): unknown {
  let node = data;
  for (const raw of pointer ? pointer.slice(1).split('/') : []) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    node = node && typeof node === 'object' ? (node as Record<string, unknown>)[seg] : undefined;
  }
  return node;
}

/** ajv errors in the API server's words (`Unsupported value: …`, `Too many: …`, `… in body should match …`). */
function describeErrors(errors: readonly ErrorObject[], data: unknown, crd: CrdVersion): FindingDraft[] {
  // A failed anyOf/oneOf/not also reports why each branch failed; the API server reports the combinator only.
  const relevant = errors.filter((e) => !/\/(anyOf|oneOf|not)\/\d*/.test(e.schemaPath.replace(/\/(anyOf|oneOf|not)$/, '')));
  const out: FindingDraft[] = [];
  const seen = new Set<string>();
  for (const e of relevant) {
    const path = pointerToFieldPath(data, e.instancePath);
    const value = valueAt(data, e.instancePath);
    const at = path || '<root>';
    const p = e.params as Record<string, unknown>;
    let finding: FindingDraft;
    switch (e.keyword) {
      case 'additionalProperties': {
        const field = childPath(path, String(p.additionalProperty));
        finding = {
          path: field,
          message: `unknown field "${field}": not in the schema of ${crd.kind} ${crd.group}/${crd.version}, so the API server rejects it (kubectl's default --validate=strict); remove it or check its spelling`,
        };
        break;
      }
      case 'required':
        finding = { path: childPath(path, String(p.missingProperty)), message: 'Required value' };
        break;
      case 'enum': {
        const allowed = (p.allowedValues as unknown[]).filter((v) => v !== null);
        finding = { path, message: `Unsupported value: ${quoteValue(value)}: supported values: ${allowed.map((v) => quoteValue(v)).join(', ')}` };
        break;
      }
      case 'type': {
        const want = Array.isArray(p.type) ? (p.type as string[]).filter((t) => t !== 'null').join(' or ') : String(p.type);
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body must be of type ${want}: "${jsonTypeName(value)}"` };
        break;
      }
      case 'maxItems':
        finding = { path, message: `Too many: ${(value as unknown[]).length}: must have at most ${p.limit} items` };
        break;
      case 'minItems':
        finding = { path, message: `Invalid value: ${(value as unknown[]).length}: ${at} in body should have at least ${p.limit} items` };
        break;
      case 'maxProperties':
        finding = { path, message: `Too many: ${Object.keys(value as object).length}: must have at most ${p.limit} items` };
        break;
      case 'minProperties':
        finding = { path, message: `Invalid value: ${Object.keys(value as object).length}: ${at} in body should have at least ${p.limit} properties` };
        break;
      case 'maxLength':
        finding = { path, message: `Too long: may not be more than ${p.limit} bytes` };
        break;
      case 'minLength':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body should be at least ${p.limit} chars long` };
        break;
      case 'pattern':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body should match '${p.pattern}'` };
        break;
      case 'maximum':
      case 'exclusiveMaximum':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body should be less than ${e.keyword === 'maximum' ? 'or equal to ' : ''}${p.limit}` };
        break;
      case 'minimum':
      case 'exclusiveMinimum':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body should be greater than ${e.keyword === 'minimum' ? 'or equal to ' : ''}${p.limit}` };
        break;
      case 'format':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body must be of type ${p.format}: ${quoteValue(value)}` };
        break;
      case 'anyOf':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body must validate at least one schema (anyOf)` };
        break;
      case 'oneOf':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body must validate one and only one schema (oneOf)` };
        break;
      case 'not':
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} in body must not validate the schema (not)` };
        break;
      default:
        finding = { path, message: `Invalid value: ${quoteValue(value)}: ${at} ${e.message ?? 'is invalid'}` };
    }
    const key = `${finding.path}\0${finding.message}`;
    if (!seen.has(key)) {
      seen.add(key);
      out.push(finding);
    }
  }
  return out;
}

/** `x-kubernetes-list-type: set|map`: items (or the map keys of items) must be unique. */
function listUniqueness(schema: SchemaNode | undefined, value: unknown, path: string): FindingDraft[] {
  if (!schema || value === null || typeof value !== 'object') return [];
  const out: FindingDraft[] = [];
  if (Array.isArray(value)) {
    const listType = schema['x-kubernetes-list-type'];
    if (listType === 'set' || listType === 'map') {
      const keys = schema['x-kubernetes-list-map-keys'] ?? [];
      const seen = new Set<string>();
      value.forEach((item, i) => {
        const identity =
          listType === 'set'
            ? item
            : Object.fromEntries(keys.filter((k) => (item as Record<string, unknown>)?.[k] !== undefined).map((k) => [k, (item as Record<string, unknown>)[k]]));
        const id = JSON.stringify(identity);
        if (seen.has(id)) out.push({ path: childPath(path, i), message: `Duplicate value: ${listType === 'set' ? quoteValue(item) : id}` });
        seen.add(id);
      });
    }
    value.forEach((item, i) => out.push(...listUniqueness(schema.items, item, childPath(path, i))));
    return out;
  }
  const obj = value as Record<string, unknown>;
  for (const [name, prop] of Object.entries(schema.properties ?? {})) {
    if (obj[name] !== undefined) out.push(...listUniqueness(prop, obj[name], childPath(path, name)));
  }
  if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
    for (const key of Object.keys(obj)) {
      if (!schema.properties?.[key]) out.push(...listUniqueness(schema.additionalProperties, obj[key], childPath(path, key)));
    }
  }
  return out;
}
