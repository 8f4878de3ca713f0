import type { Environment } from '@marcbachmann/cel-js';
import { celErrorMessage, kubernetesRuleEnvironment } from '../cel.js';
import type { FindingDraft } from '../kube/types.js';
import { childPath } from './paths.js';
import type { SchemaNode, ValidationRule } from './schemas.js';

type Program = (ctx: Record<string, unknown>) => unknown;
type Compiled = { program: Program } | { error: string };

/**
 * Runs CRD `x-kubernetes-validations` rules on an object the way the API server does on CREATE: each rule at the node
 * that declares it, with `self` bound to the value there (skipped where the value is absent), integers as CEL ints.
 * Transition rules (those reading `oldSelf`) only run on UPDATE, so never here. Each rule is compiled once.
 */
export class CrdRules {
  private readonly env: Environment = kubernetesRuleEnvironment();
  private readonly cache = new Map<string, Compiled>();

  evaluate(schema: SchemaNode, object: unknown): { findings: FindingDraft[]; notes: string[] } {
    const findings: FindingDraft[] = [];
    const notes = new Set<string>();
    this.walk(schema, object, toCel(schema, object), '', findings, notes);
    return { findings, notes: [...notes] };
  }

  private compile(expression: string): Compiled {
    let c = this.cache.get(expression);
    if (!c) {
      try {
        c = { program: this.env.parse(rewriteIndexedHas(expression)) as unknown as Program };
      } catch (err) {
        c = { error: celErrorMessage(err) };
      }
      this.cache.set(expression, c);
    }
    return c;
  }

  private walk(schema: SchemaNode | undefined, value: unknown, cel: unknown, path: string, findings: FindingDraft[], notes: Set<string>): void {
    if (!schema || value === undefined || value === null) return;
    // Children first, as the API server reports them.
    if (Array.isArray(value)) {
      value.forEach((item, i) => this.walk(schema.items, item, (cel as unknown[])[i], childPath(path, i), findings, notes));
    } else if (typeof value === 'object') {
      const obj = value as Record<string, unknown>;
      const celObj = cel as Record<string, unknown>;
      for (const [name, prop] of Object.entries(schema.properties ?? {})) {
        if (path === '' && name === 'metadata') continue;
        this.walk(prop, obj[name], celObj[name], childPath(path, name), findings, notes);
      }
      if (schema.additionalProperties && typeof schema.additionalProperties === 'object') {
        for (const key of Object.keys(obj)) {
          if (!schema.properties?.[key]) this.walk(schema.additionalProperties, obj[key], celObj[key], childPath(path, key), findings, notes);
        }
      }
    }
    for (const rule of schema['x-kubernetes-validations'] ?? []) {
      if (/\boldSelf\b/.test(rule.rule)) continue;
      const failure = this.run(rule, schema, value, cel, notes);
      if (failure !== undefined) findings.push({ path: joinFieldPath(path, rule.fieldPath), message: failure });
    }
  }

  /** The API server's message for a failed rule, or undefined when the rule holds (or cannot be run offline). */
  private run(rule: ValidationRule, schema: SchemaNode, value: unknown, cel: unknown, notes: Set<string>): string | undefined {
    const compiled = this.compile(rule.rule);
    if ('error' in compiled) {
      notes.add(`CRD rule not checked (the CEL library cannot compile it: ${compiled.error}): ${rule.rule}`);
      return undefined;
    }
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
    return reasonPrefix(rule, schema, value) + this.message(rule, cel);
  }

  private message(rule: ValidationRule, cel: unknown): string {
    if (rule.messageExpression) {
      const compiled = this.compile(rule.messageExpression);
      if ('program' in compiled) {
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
