import type { ASTNode, Environment } from '@marcbachmann/cel-js';
import { celErrorMessage, DEFAULT_CEL_CACHE_SIZE, kubernetesRuleEnvironment } from '../cel/cel.js';
import { estimateCost, PER_CALL_COST_LIMIT, PER_OBJECT_COST_LIMIT, SCALAR, unknownShape, type Shape } from '../cel/cost.js';
import { Lru } from '../cel/lru.js';
import type { FindingDraft } from '../kube/types.js';
import { childPath } from './paths.js';
import type { SchemaNode, ValidationRule } from './schemas.js';

type Program = ((ctx: Record<string, unknown>) => unknown) & { ast: ASTNode };
type Compiled = { program: Program } | { error: string };

/** The API server's cost limits for CRD rules; `check` can be given others. */
export interface CrdRuleBudget {
  perCall: number;
  perObject: number;
}

/** What one object's walk carries: its findings and notes, the budget left, and the costs worked out so far. */
interface Walk {
  findings: FindingDraft[];
  notes: Set<string>;
  /** Every list, string and map in the object is at most this big: its serialised size. */
  bound: number;
  spent: number;
  exhausted: boolean;
  shapes: Map<SchemaNode, Shape>;
  costs: Map<string, Map<SchemaNode, number>>;
}

/**
 * Runs CRD `x-kubernetes-validations` rules on an object the way the API server does on CREATE: each rule at the node
 * that declares it, with `self` bound to the value there (skipped where the value is absent), integers as CEL ints.
 * Transition rules (those reading `oldSelf`) only run on UPDATE, so never here. Each rule is compiled once.
 */
export class CrdRules {
  private readonly env: Environment = kubernetesRuleEnvironment();
  private readonly cache: Lru<string, Compiled>;

  constructor(
    private readonly budget: CrdRuleBudget = { perCall: PER_CALL_COST_LIMIT, perObject: PER_OBJECT_COST_LIMIT },
    cacheSize = DEFAULT_CEL_CACHE_SIZE,
  ) {
    this.cache = new Lru(cacheSize);
  }

  evaluate(schema: SchemaNode, object: unknown): { findings: FindingDraft[]; notes: string[] } {
    const walk: Walk = {
      findings: [],
      notes: new Set(),
      bound: Math.max(1, JSON.stringify(object ?? null).length),
      spent: 0,
      exhausted: false,
      shapes: new Map(),
      costs: new Map(),
    };
    this.walk(schema, object, toCel(schema, object), '', walk);
    return { findings: walk.findings, notes: [...walk.notes] };
  }

  private compile(expression: string): Compiled {
    return this.cache.getOrCompute(expression, () => {
      try {
        return { program: this.env.parse(rewriteIndexedHas(expression)) as unknown as Program };
      } catch (err) {
        return { error: celErrorMessage(err) };
      }
    });
  }

  private walk(schema: SchemaNode | undefined, value: unknown, cel: unknown, path: string, w: Walk): void {
    if (!schema || value === undefined || value === null) return;
    // Children first, as the API server reports them.
    if (Array.isArray(value)) {
      value.forEach((item, i) => this.walk(schema.items, item, (cel as unknown[])[i], childPath(path, i), w));
    } else if (typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      const celObj = cel as Record<string, unknown>;
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        if (path === '' && name === 'metadata') continue;
        this.walk(prop, obj[name], celObj[name], childPath(path, name), w);
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        for (const key of Object.keys(obj)) {
          if (!schema.properties?.[key]) this.walk(schema.additionalProperties, obj[key], celObj[key], childPath(path, key), w);
        }
      }
    }
    for (const rule of schema['x-kubernetes-validations'] ?? []) {
      if (/\boldSelf\b/.test(rule.rule)) continue;
      if (w.exhausted) return;
      const failure = this.run(rule, schema, value, cel, path, w);
      if (failure !== undefined) w.findings.push({ path: joinFieldPath(path, rule.fieldPath), message: failure });
    }
  }

  /**
   * The estimated cost of one rule at one schema node, worked out once per object: sizes come from the schema's
   * maxItems, maxLength and maxProperties, as the API server's estimator takes them, and are never more than the object.
   */
  private cost(rule: string, program: Program, schema: SchemaNode, w: Walk): number {
    let bySchema = w.costs.get(rule);
    if (!bySchema) w.costs.set(rule, (bySchema = new Map()));
    let cost = bySchema.get(schema);
    if (cost === undefined) {
      cost = estimateCost(program.ast, { self: schemaShape(schema, w.bound, w.shapes) }, w.bound);
      bySchema.set(schema, cost);
    }
    return cost;
  }

  /** The API server's message for a failed rule, or undefined when the rule holds (or cannot be run offline). */
  private run(rule: ValidationRule, schema: SchemaNode, value: unknown, cel: unknown, path: string, w: Walk): string | undefined {
    const { notes } = w;
    const compiled = this.compile(rule.rule);
    if ('error' in compiled) {
      notes.add(`CRD rule not checked (the CEL library cannot compile it: ${compiled.error}): ${rule.rule}`);
      return undefined;
    }
    // Never run past a budget: this library cannot stop a rule half-way, so the estimate decides before it starts.
    const cost = this.cost(rule.rule, compiled.program, schema, w);
    if (cost > this.budget.perCall) {
      notes.add(`CRD rule not checked (estimated cost ${cost} is over the per-call limit of ${this.budget.perCall}): ${rule.rule}`);
      return undefined;
    }
    if (w.spent + cost > this.budget.perObject) {
      w.exhausted = true;
      notes.add(
        `CRD rules not all checked: from ${path || 'the object'} on, the object's rules are estimated to cost more than the per-object budget of ${this.budget.perObject}`,
      );
      return undefined;
    }
    w.spent += cost;
    let result: unknown;
    try {
      result = compiled.program({ self: cel });
    } catch (err) {
      const msg = celErrorMessage(err);
      if (/unknown function|no such overload|not supported|found no matching overload/i.test(msg)) {
        notes.add(`CRD rule not checked (the CEL library cannot run it: ${msg}): ${rule.rule}`);
        return undefined;
      }
      // The API server's wording for a rule that errors (e.g. reads a field that is absent).
      return `Invalid value: ${JSON.stringify(typeName(schema, value))}: ${msg.charAt(0).toLowerCase()}${msg.slice(1)} evaluating rule: ${rule.message ?? rule.rule}`;
    }
    if (result === true) return undefined;
    return reasonPrefix(rule, schema, value) + this.message(rule, schema, cel, w);
  }

  private message(rule: ValidationRule, schema: SchemaNode, cel: unknown, w: Walk): string {
    if (rule.messageExpression) {
      const compiled = this.compile(rule.messageExpression);
      // A messageExpression over the per-call limit falls back to message, like one that fails.
      if ('program' in compiled && this.cost(rule.messageExpression, compiled.program, schema, w) <= this.budget.perCall) {
        try {
          const m = compiled.program({ self: cel });
          if (typeof m === 'string' && m.trim() !== '') return m;
        } catch {
          // Falls back to message, as the API server does.
        }
      }
    }
    return rule.message ?? `failed rule: ${rule.rule}`;
  }
}

/** The shape of values under a schema node, for the cost estimate; sizes capped at `bound`. */
function schemaShape(schema: SchemaNode | undefined, bound: number, memo: Map<SchemaNode, Shape>): Shape {
  if (!schema) return unknownShape(bound);
  const known = memo.get(schema);
  if (known) return known;
  const cap = (max: unknown) => (typeof max === 'number' && max >= 0 ? Math.min(max, bound) : bound);
  let shape: Shape;
  if (schema['x-kubernetes-preserve-unknown-fields'] || schema['x-kubernetes-int-or-string']) shape = unknownShape(bound);
  else if (schema.type === 'string') shape = { size: cap(schema.maxLength) };
  else if (schema.type === 'array') {
    shape = { size: cap(schema.maxItems) };
    const items = schema.items;
    Object.defineProperty(shape, 'elem', { get: () => schemaShape(items, bound, memo), enumerable: true });
  } else if (schema.type === 'object' || schema.properties || schema.additionalProperties) {
    const props = schema.properties ?? {};
    const extra = typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined;
    shape = {
      size: extra ? cap(schema.maxProperties) : Math.max(1, Object.keys(props).length),
      key: { size: bound },
      field: (name) => (props[name] ? schemaShape(props[name], bound, memo) : extra ? schemaShape(extra, bound, memo) : undefined),
    };
    if (extra) Object.defineProperty(shape, 'elem', { get: () => schemaShape(extra, bound, memo), enumerable: true });
  } else if (schema.type) shape = SCALAR;
  else shape = unknownShape(bound);
  memo.set(schema, shape);
  return shape;
}

function reasonPrefix(rule: ValidationRule, schema: SchemaNode, value: unknown): string {
  switch (rule.reason) {
    case 'FieldValueForbidden':
      return 'Forbidden: ';
    case 'FieldValueRequired':
      return 'Required value: ';
    case 'FieldValueDuplicate':
      return 'Duplicate value: ';
    default:
      return `Invalid value: ${JSON.stringify(typeName(schema, value))}: `;
  }
}

function typeName(schema: SchemaNode, value: unknown): string {
  if (schema.type) return schema.type;
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value === 'number' ? 'integer' : typeof value;
}

/** `fieldPath` of a rule is relative to the node: `.spec.foo` or `['key']`. */
function joinFieldPath(path: string, fieldPath: string | undefined): string {
  if (!fieldPath) return path;
  const rel = fieldPath.startsWith('.') ? fieldPath.slice(1) : fieldPath;
  if (rel.startsWith('[')) return `${path}${rel}`;
  return path ? `${path}.${rel}` : rel;
}

/** JSON values as CEL sees them under the schema: integers (and int-or-string numbers) as CEL ints. */
export function toCel(schema: SchemaNode | undefined, value: unknown): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value === 'number') {
    const integral = !schema || schema.type === 'integer' || schema['x-kubernetes-int-or-string'] === true || (!schema.type && Number.isInteger(value));
    return integral && Number.isInteger(value) ? BigInt(value) : value;
  }
  if (Array.isArray(value)) return value.map((v) => toCel(schema?.items, v));
  if (typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const prop = schema?.properties?.[k] ?? (typeof schema?.additionalProperties === 'object' ? schema.additionalProperties : undefined);
      out[k] = toCel(prop, v);
    }
    return out;
  }
  return value;
}

/**
 * `has(a[0].b)` is valid CEL, but the library only accepts `has()` on a plain selection chain. On JSON objects (CEL
 * maps) `has(x.b)` means `'b' in x`, so such calls are rewritten to that.
 */
export function rewriteIndexedHas(expression: string): string {
  let out = '';
  let i = 0;
  while (i < expression.length) {
    const m = /\bhas\(/g;
    m.lastIndex = i;
    const found = m.exec(expression);
    if (!found) break;
    const open = found.index + found[0].length - 1;
    const close = matchingParen(expression, open);
    if (close < 0) break;
    const arg = expression.slice(open + 1, close);
    const last = /^([\s\S]*)\.\s*([A-Za-z_]\w*)\s*$/.exec(arg);
    out += expression.slice(i, found.index);
    if (last && last[1]!.includes('[')) out += `('${last[2]}' in (${rewriteIndexedHas(last[1]!)}))`;
    else out += `has(${rewriteIndexedHas(arg)})`;
    i = close + 1;
  }
  return out + expression.slice(i);
}

function matchingParen(text: string, open: number): number {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < text.length; i++) {
    const c = text[i]!;
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = undefined;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '(') depth++;
    else if (c === ')' && --depth === 0) return i;
  }
  return -1;
}
