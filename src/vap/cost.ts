/**
 * A worst-case CEL cost estimate, after cel-go's checker/cost.go as the Kubernetes API server uses it: identifiers and
 * field selections cost 1, presence tests 1, literals 0, list literals 10 plus their items, function calls 1 plus their
 * arguments, string concatenation and comparison 0.1 per byte of the strings involved, `&&`/`||` both sides, `?:` the
 * condition plus the dearer branch, and a comprehension its range plus, per element, its loop condition and step (the
 * macro expansions of all/exists/filter/map below). `object` is typed here by the CRD's bounds (maxItems, maxLength,
 * the duration pattern), which the API server's type-less estimate for `object: dyn` does not know; so this estimates
 * what the API server charges at run time on the largest object the CRD admits, to hold against the per-call limit.
 */
import { parse } from '@marcbachmann/cel-js';
import type { VapForm } from '../review/policy.js';

/** k8s.io/apiserver/pkg/apis/cel: the cost limit of one expression evaluation, and of all of a binding's. */
export const PER_CALL_LIMIT = 1_000_000;
export const RUNTIME_CEL_COST_BUDGET = 10_000_000;
/** The largest request the API server takes: the bound of a string without maxLength. */
export const MAX_REQUEST_SIZE_BYTES = 3 * 1024 * 1024;

export type Shape =
  | { kind: 'list'; maxItems: number; items: Shape }
  | { kind: 'object'; fields: Record<string, Shape> }
  | { kind: 'string'; maxLength: number }
  | { kind: 'scalar' };

const str = (maxLength: number): Shape => ({ kind: 'string', maxLength });
const SCALAR: Shape = { kind: 'scalar' };
/** A GEP-2257 duration: at most 4 components of 5 digits and a 2-letter unit. */
const DURATION = str(4 * 7);
const list = (maxItems: number, items: Shape): Shape => ({ kind: 'list', maxItems, items });
const obj = (fields: Record<string, Shape>): Shape => ({ kind: 'object', fields });
const UNBOUNDED_STRING = str(MAX_REQUEST_SIZE_BYTES);

/** The AIGatewayRoute fields the forms read, with the CRD's bounds (v1alpha1 and v1beta1 share them). */
export const AIGATEWAYROUTE_SHAPE: Shape = obj({
  spec: obj({
    rules: list(
      15,
      obj({
        name: str(253),
        streamIdleTimeout: DURATION,
        timeouts: obj({ request: DURATION, backendRequest: DURATION }),
        backendRefs: list(128, obj({ name: UNBOUNDED_STRING, weight: SCALAR, priority: SCALAR })),
        matches: list(128, SCALAR),
      }),
    ),
  }),
});

export const BACKENDTRAFFICPOLICY_SHAPE: Shape = obj({
  spec: obj({ retry: obj({ perRetry: obj({ backOff: obj({ baseInterval: DURATION, maxInterval: DURATION }) }) }) }),
});

interface Estimate {
  cost: number;
  shape?: Shape;
}

type Node = { op: string; args: unknown };

/** The cost of one expression, with `object` of `shape` and the variables already estimated. */
export function estimateCost(expression: string, shape: Shape, variables: Record<string, Estimate> = {}): number {
  const ast = parse(expression).ast as Node;
  return walk(ast, new Map<string, Shape | undefined>([['object', shape]]), variables).cost;
}

function sizeOf(shape: Shape | undefined): number {
  if (!shape) return MAX_REQUEST_SIZE_BYTES;
  if (shape.kind === 'list') return shape.maxItems;
  if (shape.kind === 'string') return shape.maxLength;
  return 1;
}

function walk(node: Node, scope: Map<string, Shape | undefined>, variables: Record<string, Estimate>): Estimate {
  const w = (n: unknown) => walk(n as Node, scope, variables);
  const args = node.args as unknown[];
  switch (node.op) {
    case 'value':
      return { cost: 0, shape: typeof node.args === 'string' ? str(Buffer.byteLength(node.args)) : SCALAR };
    case 'id': {
      const name = node.args as string;
      if (!scope.has(name) && name !== 'variables') throw new Error(`cost: unknown identifier ${name}`);
      return { cost: 1, shape: scope.get(name) };
    }
    case '.': {
      const [operand, field] = args as [Node, string];
      if (operand.op === 'id' && operand.args === 'variables') {
        const v = variables[field];
        if (!v) throw new Error(`cost: unknown variable ${field}`);
        // A variable is evaluated once, on first use; charged here in full for a worst case.
        return { cost: 1 + 1 + v.cost, shape: v.shape };
      }
      const o = w(operand);
      const s = o.shape?.kind === 'object' ? o.shape.fields[field] : undefined;
      return { cost: o.cost + 1, shape: s };
    }
    case '[]': {
      const [l, i] = args as [Node, Node];
      const a = w(l);
      return { cost: a.cost + w(i).cost + 1, shape: a.shape?.kind === 'list' ? a.shape.items : undefined };
    }
    case 'list': {
      const items = args.map(w);
      const widest = items.reduce<Shape | undefined>((acc, e) => (acc === undefined || sizeOf(e.shape) > sizeOf(acc) ? e.shape : acc), undefined);
      return { cost: 10 + items.reduce((s, e) => s + e.cost, 0), shape: list(items.length, widest ?? SCALAR) };
    }
    case '?:': {
      const [c, t, f] = args.map(w) as [Estimate, Estimate, Estimate];
      return { cost: c.cost + Math.max(t.cost, f.cost), shape: sizeOf(t.shape) >= sizeOf(f.shape) ? t.shape : f.shape };
    }
    case '&&':
    case '||': {
      const [a, b] = args.map(w) as [Estimate, Estimate];
      return { cost: a.cost + b.cost, shape: SCALAR };
    }
    case '!_':
    case '-_':
      return { cost: w(node.args).cost + 1, shape: SCALAR };
    case '+': {
      const [a, b] = args.map(w) as [Estimate, Estimate];
      if (a.shape?.kind === 'string' || b.shape?.kind === 'string') {
        const size = sizeOf(a.shape) + sizeOf(b.shape);
        return { cost: a.cost + b.cost + Math.ceil(0.1 * size), shape: str(size) };
      }
      return { cost: a.cost + b.cost + 1, shape: SCALAR };
    }
    case '==':
    case '!=':
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const [a, b] = args.map(w) as [Estimate, Estimate];
      const strings = a.shape?.kind === 'string' && b.shape?.kind === 'string';
      return { cost: a.cost + b.cost + (strings ? Math.ceil(0.1 * Math.min(sizeOf(a.shape), sizeOf(b.shape))) : 1), shape: SCALAR };
    }
    case '-':
    case '*':
    case '/':
    case '%': {
      const [a, b] = args.map(w) as [Estimate, Estimate];
      return { cost: a.cost + b.cost + 1, shape: SCALAR };
    }
    case 'call': {
      const [name, callArgs] = args as [string, Node[]];
      if (name === 'has') {
        const [sel] = callArgs as [Node];
        const [operand] = sel.args as [Node, string];
        return { cost: 1 + w(operand).cost, shape: SCALAR };
      }
      const a = callArgs.map(w);
      const sum = a.reduce((s, e) => s + e.cost, 0);
      if (name === 'string') return { cost: sum + 1, shape: str(20) };
      if (name === 'size' || name === 'duration' || name === 'int') return { cost: sum + 1, shape: SCALAR };
      throw new Error(`cost: no estimate for function ${name}()`);
    }
    case 'rcall': {
      const [name, receiver, callArgs] = args as [string, Node, Node[]];
      const range = w(receiver);
      if (!['all', 'exists', 'filter', 'map'].includes(name)) throw new Error(`cost: no estimate for .${name}()`);
      const [iter, body] = callArgs as [Node, Node];
      const items = range.shape?.kind === 'list' ? range.shape.items : undefined;
      const inner = new Map(scope).set(iter.args as string, items);
      const b = walk(body, inner, variables);
      const n = sizeOf(range.shape);
      // Per element: all: `@not_strictly_false(r)` (2) and `r && p` (1 + p); exists: `@not_strictly_false(!r)` (3) and
      // `r || p` (1 + p); filter: `p ? r + [x] : r` (p + 13); map: `r + [f]` (f + 12). Plus the accumulator and result.
      if (name === 'all') return { cost: range.cost + 1 + n * (3 + b.cost), shape: SCALAR };
      if (name === 'exists') return { cost: range.cost + 1 + n * (4 + b.cost), shape: SCALAR };
      if (name === 'filter') return { cost: range.cost + 11 + n * (13 + b.cost), shape: list(n, items ?? SCALAR) };
      return { cost: range.cost + 11 + n * (12 + b.cost), shape: list(n, b.shape ?? SCALAR) };
    }
    default:
      throw new Error(`cost: no estimate for operator ${node.op}`);
  }
}

export interface FormCost {
  /** Each variable, each validation's expression and messageExpression, with its worst-case cost. */
  expressions: { name: string; cost: number }[];
  /** All of them: what one evaluation of the binding may charge at most. */
  total: number;
}

/** Estimates every expression of a form; a variable used by an expression is charged to it in full. */
export function estimateFormCost(form: VapForm, shape: Shape): FormCost {
  const variables: Record<string, Estimate> = {};
  const expressions: FormCost['expressions'] = [];
  const scope = new Map<string, Shape | undefined>([['object', shape]]);
  for (const v of form.variables ?? []) {
    const e = walk(parse(v.expression).ast as Node, scope, variables);
    variables[v.name] = e;
    expressions.push({ name: `variables.${v.name}`, cost: e.cost });
  }
  form.validations.forEach((v, i) => {
    expressions.push({ name: `validations[${i}].expression`, cost: estimateCost(v.expression, shape, variables) });
    expressions.push({ name: `validations[${i}].messageExpression`, cost: estimateCost(v.messageExpression, shape, variables) });
  });
  return { expressions, total: expressions.reduce((s, e) => s + e.cost, 0) };
}
