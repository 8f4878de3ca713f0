/**
 * CEL (Common Expression Language) as the AI Gateway controller and the Kubernetes API server use it.
 * @marcbachmann/cel-js is used because it exposes a type checker with declared variables (the controller compiles
 * cost expressions against typed variables, so a type error in a branch never taken must still be caught).
 */
import { Environment, evaluate } from '@marcbachmann/cel-js';

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

export class LlmCostCel {
  private readonly env: Environment;
  /** What the controller evaluates every new program with as a sanity check: "dummy" strings and zero tokens. */
  private readonly dummy: Record<string, unknown>;

  constructor() {
    this.env = new Environment();
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
   * The controller's three checks, in its order: the expression compiles against the declared variables, it evaluates
   * with dummy values, and the result is an integer that is not negative. Returns the problem, or undefined.
   */
  problem(expression: string): string | undefined {
    let checked;
    try {
      checked = this.env.check(expression);
    } catch (err) {
      return `does not compile: ${celErrorMessage(err)}`;
    }
    if (!checked.valid) return `does not compile: ${celErrorMessage(checked.error)}`;
    let value: unknown;
    try {
      value = this.env.evaluate(expression, this.dummy);
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
