/**
 * CEL (Common Expression Language) as the AI Gateway controller and the Kubernetes API server use it.
 * @marcbachmann/cel-js is used because it exposes a type checker with declared variables (the controller compiles
 * cost expressions against typed variables, so a type error in a branch never taken must still be caught).
 */
import { Environment, evaluate } from '@marcbachmann/cel-js';
import { estimateCost, SCALAR, type Shape } from './cost.js';
import { Lru } from './lru.js';

/** First line of a library error (the rest is a source excerpt with a caret). */
export function celErrorMessage(err: unknown): string {
  const message = (err as Error)?.message ?? String(err);
  return message.split('\n')[0]!.trim();
}

/**
 * The variables the controller declares for `llmRequestCosts[].cel` (and QuotaPolicy cost expressions), with their types:
 * the strings describe the request, the token counts are unsigned.
 */
export const LLM_COST_VARIABLES = {
  model: 'string',
  backend: 'string',
  route_name: 'string',
  input_tokens: 'uint',
  cached_input_tokens: 'uint',
  cache_creation_input_tokens: 'uint',
  output_tokens: 'uint',
  total_tokens: 'uint',
  reasoning_tokens: 'uint',
} as const;

/**
 * Caps on an llmRequestCosts expression, checked before it is compiled or run. The API server bounds CRD rules with a
 * cost of 1,000,000 per call and 10,000,000 per object (k8s.io/apiserver/pkg/apis/cel); the controller evaluates a cost
 * expression in ext_proc on every LLM request, so the defaults here are ten times lower.
 */
export interface LlmCostLimits {
  /** Characters of one expression. */
  maxLength: number;
  /** Nesting of the parse (parentheses, calls, macros, literals). */
  maxDepth: number;
  /** Elements of one list literal and entries of one map literal. */
  maxEntries: number;
  /** Estimated cost of evaluating one expression once (cel-go's units, see cel/cost.ts). */
  maxCostPerExpression: number;
  /** Estimated cost of all of a route's expressions together. */
  maxCostPerRoute: number;
}

export const DEFAULT_LLM_COST_LIMITS: Readonly<LlmCostLimits> = Object.freeze({
  maxLength: 4096,
  maxDepth: 32,
  maxEntries: 256,
  maxCostPerExpression: 100_000,
  maxCostPerRoute: 1_000_000,
});

/** Compiled programs kept by expression text (a route is reviewed on every write, with the same expressions). */
export const DEFAULT_CEL_CACHE_SIZE = 1000;

/** Strings of a request (model and backend names) are sized for the estimate at this many characters. */
const LLM_COST_STRING_SIZE = 1024;

const LLM_COST_SHAPES: Readonly<Record<string, Shape>> = Object.fromEntries(
  Object.entries(LLM_COST_VARIABLES).map(([name, type]) => [name, type === 'string' ? { size: LLM_COST_STRING_SIZE } : SCALAR]),
);

/** What the static checks found for one expression: a problem, or the estimated cost and the program to evaluate. */
export type LlmCostCompiled =
  | { problem: string; cost?: number; /** Set when the problem is one of our caps, not the controller's. */ limit?: keyof LlmCostLimits }
  | { problem?: undefined; cost: number; program: (ctx: Record<string, unknown>) => unknown };

export class LlmCostCel {
  private readonly env: Environment;
  /** What the controller evaluates every new program with as a sanity check: "dummy" strings and zero tokens. */
  private readonly dummy: Record<string, unknown>;
  private readonly compiled: Lru<string, LlmCostCompiled>;
  private readonly evaluated: Lru<string, { problem?: string }>;

  constructor(
    readonly limits: Readonly<LlmCostLimits> = DEFAULT_LLM_COST_LIMITS,
    cacheSize = DEFAULT_CEL_CACHE_SIZE,
  ) {
    this.env = new Environment({
      limits: {
        maxDepth: limits.maxDepth,
        maxListElements: limits.maxEntries,
        maxMapEntries: limits.maxEntries,
        maxAstNodes: limits.maxLength,
        maxCallArguments: 32,
      },
    });
    this.compiled = new Lru(cacheSize);
    this.evaluated = new Lru(cacheSize);
    const zero = evaluate('0u');
    this.dummy = {};
    for (const [name, type] of Object.entries(LLM_COST_VARIABLES)) {
      this.env.registerVariable(name, type);
      this.dummy[name] = type === 'string' ? 'dummy' : zero;
    }
    // cel-go converts uint to int; the library lacks that overload.
    this.env.registerFunction('int(uint): int', (u: unknown) => {
      const v = BigInt((u as { valueOf(): bigint }).valueOf());
      if (v > 0x7fffffffffffffffn) throw new Error('int overflow converting uint to int');
      return v;
    });
  }

  /**
   * The checks made without running the expression, cached by its text: the caps on length, nesting and entries, the
   * controller's compile against the declared variables, and the estimated cost against the per-expression budget.
   */
  compile(expression: string): LlmCostCompiled {
    return this.compiled.getOrCompute(expression, () => this.compileUncached(expression));
  }

  private compileUncached(expression: string): LlmCostCompiled {
    const { limits } = this;
    if (expression.length > limits.maxLength) {
      return { limit: 'maxLength', problem: `is ${expression.length} characters long, over the limit of ${limits.maxLength}` };
    }
    let parsed;
    try {
      parsed = this.env.parse(expression);
    } catch (err) {
      const limit = limitProblem(err, limits);
      return limit ?? { problem: `does not compile: ${celErrorMessage(err)}` };
    }
    const checked = parsed.check();
    if (!checked.valid) return { problem: `does not compile: ${celErrorMessage(checked.error)}` };
    const cost = estimateCost(parsed.ast, LLM_COST_SHAPES, LLM_COST_STRING_SIZE);
    if (cost > limits.maxCostPerExpression) {
      return { cost, limit: 'maxCostPerExpression', problem: `has an estimated cost of ${cost}, over the budget of ${limits.maxCostPerExpression} per expression` };
    }
    return { cost, program: parsed as unknown as (ctx: Record<string, unknown>) => unknown };
  }

  /**
   * The controller's three checks, in its order: the expression compiles against the declared variables, it evaluates
   * with dummy values, and the result is an integer that is not negative. Before any of them, the caps and the cost
   * budget: an expression over budget is never evaluated. Returns the problem, or undefined.
   */
  problem(expression: string): string | undefined {
    const compiled = this.compile(expression);
    return compiled.problem ?? this.run(expression, compiled.program);
  }

  /** Evaluates a compiled expression with the controller's dummy values (cached by text); the problem, or undefined. */
  run(expression: string, program: (ctx: Record<string, unknown>) => unknown): string | undefined {
    return this.evaluated.getOrCompute(expression, () => ({ problem: this.runUncached(program) })).problem;
  }

  private runUncached(program: (ctx: Record<string, unknown>) => unknown): string | undefined {
    let value: unknown;
    try {
      value = program(this.dummy);
    } catch (err) {
      return `fails when evaluated with zero tokens, as the controller does before accepting it: ${celErrorMessage(err)}`;
    }
    if (typeof value === 'bigint') {
      return value < 0n ? `evaluates to a negative number (${value}) with zero tokens; a cost must be 0 or more` : undefined;
    }
    if (value !== null && typeof value === 'object' && value.constructor === this.dummy.input_tokens?.constructor) return undefined;
    return `evaluates to ${describeCelType(value)}, not an integer; a cost must be an int or uint (e.g. input_tokens + output_tokens)`;
  }
}

/** The library's structural-limit errors, in the words of our caps. */
function limitProblem(err: unknown, limits: Readonly<LlmCostLimits>): { problem: string; limit: keyof LlmCostLimits } | undefined {
  const m = /^Exceeded (maxDepth|maxListElements|maxMapEntries|maxAstNodes|maxCallArguments) \((\d+)\)/.exec(celErrorMessage(err));
  if (!m) return undefined;
  switch (m[1]) {
    case 'maxDepth':
      return { limit: 'maxDepth', problem: `nests more than ${limits.maxDepth} levels deep, over the limit` };
    case 'maxListElements':
      return { limit: 'maxEntries', problem: `has a list literal of more than ${limits.maxEntries} elements, over the limit` };
    case 'maxMapEntries':
      return { limit: 'maxEntries', problem: `has a map literal of more than ${limits.maxEntries} entries, over the limit` };
    case 'maxAstNodes':
      return { limit: 'maxLength', problem: `has more than ${limits.maxLength} terms, over the limit` };
    default:
      return { limit: 'maxDepth', problem: `passes more than ${m[2]} arguments to one function, over the limit` };
  }
}

function describeCelType(value: unknown): string {
  if (typeof value === 'string') return 'a string';
  if (typeof value === 'boolean') return 'a bool';
  if (typeof value === 'number') return 'a double';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  return 'a non-integer value';
}

/** The environment of CRD `x-kubernetes-validations` rules: `self` (and `oldSelf` on UPDATE) as dynamic values. */
export function kubernetesRuleEnvironment(): Environment {
  return new Environment().registerVariable('self', 'dyn').registerVariable('oldSelf', 'dyn');
}
