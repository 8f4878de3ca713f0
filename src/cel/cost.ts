/**
 * A static cost estimate for CEL, in the units and with the model of cel-go's `checker.Cost`, which the Kubernetes API
 * server uses to bound CRD validation rules: reading a variable or a field costs 1, creating a list 10 and a map 30,
 * walking a string 0.1 per character, and a comprehension (`all`, `exists`, `map`, `filter`, …) costs its body once per
 * element of its range. Only the upper bound is kept. The library this project evaluates CEL with (cel-js) has no cost
 * tracking at run time, so the estimate is made before evaluating, and an expression over budget is never evaluated.
 *
 * Sizes (characters of a string, elements of a list, entries of a map) come from a `Shape`: list and map literals have
 * their exact size, variables the size their caller declares (from a CRD schema's maxItems/maxLength, or a bound such as
 * the object's own size), and what cannot be known is bounded by `unknownSize`.
 */
import type { ASTNode } from '@marcbachmann/cel-js';

/** What the estimate knows about a value: its largest size, and the shapes of its elements, keys and fields. */
export interface Shape {
  /** Largest number of characters (string, bytes), elements (list) or entries (map); 1 for a scalar. */
  size: number;
  /** List element or map value. */
  elem?: Shape;
  /** Map key. */
  key?: Shape;
  /** A field of an object (CEL map with known keys); undefined when nothing more is known than `elem`. */
  field?(name: string): Shape | undefined;
}

/** The API server's limits (k8s.io/apiserver/pkg/apis/cel): one rule call, and all rules of one object. */
export const PER_CALL_COST_LIMIT = 1_000_000;
export const PER_OBJECT_COST_LIMIT = 10_000_000;

// cel-go's constants (common/cost.go).
const SELECT_AND_IDENT = 1;
const LIST_CREATE = 10;
const MAP_CREATE = 30;
const STRING_TRAVERSAL = 0.1;
const REGEX_LENGTH = 0.25;

export const SCALAR: Shape = Object.freeze({ size: 1 });

/** A value nothing is known about but a size bound, all the way down. */
export function unknownShape(size: number): Shape {
  const shape: Shape = { size };
  shape.elem = shape;
  shape.key = shape;
  shape.field = () => shape;
  return shape;
}

function stringShape(size: number): Shape {
  return { size };
}

function union(a: Shape | undefined, b: Shape | undefined): Shape | undefined {
  if (!a) return b;
  if (!b) return a;
  if (a === b) return a;
  return {
    size: Math.max(a.size, b.size),
    elem: union(a.elem, b.elem),
    key: union(a.key, b.key),
    field: a.field || b.field ? (name) => union(a.field?.(name), b.field?.(name)) : undefined,
  };
}

interface Estimate {
  cost: number;
  shape: Shape;
}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'existsOne', 'map', 'filter']);

/**
 * Estimates the largest cost of evaluating `ast` once. `variables` gives the shape of each declared variable;
 * `unknownSize` bounds whatever else (a function's result the model does not size).
 */
export function estimateCost(ast: ASTNode, variables: Readonly<Record<string, Shape>>, unknownSize: number): number {
  const unknown = unknownShape(unknownSize);
  const scopes: Array<Record<string, Shape>> = [];

  const lookup = (name: string): Shape => {
    for (let i = scopes.length - 1; i >= 0; i--) {
      const s = scopes[i]![name];
      if (s) return s;
    }
    return variables[name] ?? unknown;
  };

  const walk = (node: ASTNode): Estimate => {
    switch (node.op) {
      case 'value': {
        const v = node.args;
        if (typeof v === 'string') return { cost: 0, shape: stringShape(v.length) };
        if (v instanceof Uint8Array) return { cost: 0, shape: stringShape(v.length) };
        return { cost: 0, shape: SCALAR };
      }
      case 'id':
        return { cost: SELECT_AND_IDENT, shape: lookup(node.args) };
      case '.':
      case '.?': {
        const [operand, name] = node.args;
        const o = walk(operand);
        return { cost: o.cost + SELECT_AND_IDENT, shape: o.shape.field?.(name) ?? o.shape.elem ?? unknown };
      }
      case '[]':
      case '[?]': {
        const [operand, index] = node.args;
        const o = walk(operand);
        const i = walk(index);
        let shape = o.shape.elem ?? unknown;
        if (index.op === 'value' && typeof index.args === 'string' && o.shape.field) shape = o.shape.field(index.args) ?? shape;
        return { cost: o.cost + i.cost + 1, shape };
      }
      case 'list': {
        let cost = LIST_CREATE;
        let elem: Shape | undefined;
        for (const e of node.args) {
          const x = walk(e);
          cost += x.cost;
          elem = union(elem, x.shape);
        }
        return { cost, shape: { size: node.args.length, elem: elem ?? SCALAR } };
      }
      case 'map': {
        let cost = MAP_CREATE;
        let key: Shape | undefined;
        let elem: Shape | undefined;
        for (const [k, v] of node.args) {
          const ke = walk(k);
          const ve = walk(v);
          cost += ke.cost + ve.cost;
          key = union(key, ke.shape);
          elem = union(elem, ve.shape);
        }
        return { cost, shape: { size: node.args.length, key: key ?? SCALAR, elem: elem ?? SCALAR } };
      }
      case '?:': {
        const [c, t, f] = node.args;
        const ce = walk(c);
        const te = walk(t);
        const fe = walk(f);
        return { cost: ce.cost + Math.max(te.cost, fe.cost), shape: union(te.shape, fe.shape)! };
      }
      case '||':
      case '&&': {
        const [a, b] = node.args;
        return { cost: walk(a).cost + walk(b).cost, shape: SCALAR };
      }
      case '!_':
      case '-_':
        return { cost: walk(node.args).cost + 1, shape: SCALAR };
      case 'call':
        return call(node.args[0], undefined, node.args[1]);
      case 'rcall':
        return call(node.args[0], node.args[1], node.args[2]);
      default:
        return binary(node.op, node.args as [ASTNode, ASTNode]);
    }
  };

  const binary = (op: string, [a, b]: [ASTNode, ASTNode]): Estimate => {
    const ae = walk(a);
    const be = walk(b);
    const args = ae.cost + be.cost;
    switch (op) {
      case '+': {
        // String concatenation walks both; list concatenation is one step (cel-go's AddString, AddList).
        const size = ae.shape.size + be.shape.size;
        const isList = ae.shape.elem !== undefined && ae.shape.key === undefined;
        const shape: Shape = isList ? { size, elem: union(ae.shape.elem, be.shape.elem) } : { size };
        return { cost: args + (isList ? 1 : Math.max(1, size * STRING_TRAVERSAL)), shape: ae.shape === SCALAR ? SCALAR : shape };
      }
      case 'in':
        // A list is searched element by element; a map is one lookup.
        return { cost: args + (be.shape.key ? 1 : Math.max(1, be.shape.size)), shape: SCALAR };
      case '==':
      case '!=':
      case '<':
      case '<=':
      case '>':
      case '>=':
        return { cost: args + Math.max(1, Math.min(ae.shape.size, be.shape.size) * STRING_TRAVERSAL), shape: SCALAR };
      default:
        return { cost: args + 1, shape: SCALAR };
    }
  };

  const call = (name: string, target: ASTNode | undefined, args: ASTNode[]): Estimate => {
    if (target && COMPREHENSIONS.has(name) && args.length >= 2 && args[0]!.op === 'id') {
      return comprehension(name, target, args[0]!.args as string, args.slice(1));
    }
    if (!target && name === 'has' && args.length === 1) {
      // A presence test reads the operand and tests one field.
      const arg = args[0]!;
      const operand = arg.op === '.' ? walk(arg.args[0]) : walk(arg);
      return { cost: operand.cost + SELECT_AND_IDENT, shape: SCALAR };
    }
    const t = target ? walk(target) : undefined;
    const a = args.map(walk);
    const argCost = (t?.cost ?? 0) + a.reduce((sum, x) => sum + x.cost, 0);
    const subject = t?.shape ?? a[0]?.shape ?? SCALAR;
    const other = t ? a[0]?.shape : a[1]?.shape;
    const walkOf = (s: Shape | undefined) => (s?.size ?? 1) * STRING_TRAVERSAL;
    switch (name) {
      case 'size':
      case 'int':
      case 'uint':
      case 'double':
      case 'bool':
      case 'type':
      case 'duration':
      case 'timestamp':
        return { cost: argCost + 1, shape: SCALAR };
      case 'dyn':
        return { cost: argCost + 1, shape: subject };
      case 'string':
      case 'bytes':
        return { cost: argCost + Math.max(1, walkOf(subject)), shape: stringShape(Math.max(subject.size, 32)) };
      case 'startsWith':
      case 'endsWith':
        return { cost: argCost + Math.max(1, walkOf(other)), shape: SCALAR };
      case 'contains':
        return { cost: argCost + Math.max(1, walkOf(subject) * walkOf(other)), shape: SCALAR };
      case 'matches':
        return { cost: argCost + Math.max(1, (subject.size + 1) * STRING_TRAVERSAL * (other?.size ?? 1) * REGEX_LENGTH), shape: SCALAR };
      case 'lowerAscii':
      case 'upperAscii':
      case 'trim':
      case 'reverse':
        return { cost: argCost + Math.max(1, walkOf(subject)), shape: subject };
      case 'indexOf':
      case 'lastIndexOf':
        return { cost: argCost + Math.max(1, walkOf(subject) * walkOf(other)), shape: SCALAR };
      case 'substring':
      case 'charAt':
        return { cost: argCost + Math.max(1, walkOf(subject)), shape: subject };
      case 'replace': {
        // Every match may be replaced: the result is at most the subject times the replacement.
        const replacement = a[t ? 1 : 2]?.shape.size ?? 1;
        const size = subject.size * Math.max(1, replacement);
        return { cost: argCost + Math.max(1, size * STRING_TRAVERSAL), shape: stringShape(size) };
      }
      case 'split':
        return { cost: argCost + Math.max(1, walkOf(subject)), shape: { size: subject.size, elem: subject } };
      case 'join': {
        const size = subject.size * (subject.elem?.size ?? unknownSize);
        return { cost: argCost + Math.max(1, size * STRING_TRAVERSAL), shape: stringShape(size) };
      }
      default:
        return { cost: argCost + 1, shape: unknown };
    }
  };

  const comprehension = (name: string, target: ASTNode, variable: string, bodies: ASTNode[]): Estimate => {
    const range = walk(target);
    // Over a list the variable is an element; over a map it is a key.
    const iter = range.shape.key ?? range.shape.elem ?? unknown;
    scopes.push({ [variable]: iter });
    let body = 0;
    const shapes: Shape[] = [];
    for (const b of bodies) {
      const e = walk(b);
      body += e.cost;
      shapes.push(e.shape);
    }
    scopes.pop();
    const n = range.shape.size;
    // Each step also tests the loop condition and updates the accumulator; `map` and `filter` append to a list.
    const perStep = name === 'map' || name === 'filter' ? 2 + LIST_CREATE : 3;
    const cost = range.cost + n * (body + perStep);
    if (name === 'map') return { cost, shape: { size: n, elem: shapes[shapes.length - 1]! } };
    if (name === 'filter') return { cost, shape: { size: n, elem: iter } };
    return { cost, shape: SCALAR };
  };

  return Math.ceil(walk(ast).cost);
}

/** Height of the AST: how deeply the expression nests. */
export function astDepth(ast: ASTNode): number {
  let max = 0;
  const stack: Array<[unknown, number]> = [[ast, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (Array.isArray(node)) {
      for (const child of node) stack.push([child, depth]);
    } else if (node !== null && typeof node === 'object' && 'op' in node) {
      max = Math.max(max, depth);
      const args = (node as unknown as { args: unknown }).args;
      if (args !== null && typeof args === 'object') stack.push([args, depth + 1]);
    }
  }
  return max;
}
