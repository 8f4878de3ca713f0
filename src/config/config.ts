import { readFileSync } from 'node:fs';
import type { ErrorObject, ValidateFunction } from 'ajv';
import { ajvLibrary } from '../kube/ajv.js';
import { parse as parseYaml } from 'yaml';
import { AdmissionError } from '../review/errors.js';
import { MODES } from '../kube/types.js';
import type { AnyPolicy } from '../review/policy.js';
import { PolicySet, type PolicySettings } from '../review/policy-set.js';
import { EXCLUSION_SCHEMA, type Exclusion } from '../review/exemptions.js';
import { DEFAULT_STALE_AFTER_SECONDS } from '../world/staleness.js';

/** The whole configuration file (default `config.yaml`), validated at load and frozen. */
export interface Config {
  policies: Record<string, PolicySettings>;
  /** Objects that some (or all) policies do not apply to; their findings are reported as `skip`. */
  exclusions: Exclusion[];
  server: { maxBodyBytes: number; reviewDeadlineMs: number; largeBodyBytes: number; maxLargeReviews: number };
  /** The cluster cache of `serve`: reviews that look objects up warn once its last synced view is older than this. */
  cache: { staleAfterSeconds: number };
  /**
   * The background audit of `serve` in cluster mode: seconds between runs, 0 = off. `reports`: the report API written by
   * it and by `audit --write-reports` (`auto`: openreports.io when the cluster serves it, else wgpolicyk8s.io).
   */
  audit: { intervalSeconds: number; reports: ReportApiChoice };
  /** Kubernetes minor version to assume without a cluster (standalone, check, inject). */
  kubernetesMinor?: number;
}

/**
 * Objects reach up to ~3 MiB through the API server; an UPDATE review carries object and oldObject, so the body limit
 * leaves room for both plus the envelope.
 */
export { DEFAULT_REVIEW_DEADLINE_MS } from '../review/deps.js';
import { DEFAULT_REVIEW_DEADLINE_MS } from '../review/deps.js';

export const DEFAULT_AUDIT_INTERVAL_SECONDS = 600;
export const REPORT_API_CHOICES = ['auto', 'openreports.io', 'wgpolicyk8s.io'] as const;
export type ReportApiChoice = (typeof REPORT_API_CHOICES)[number];

export const DEFAULT_MAX_BODY_BYTES = 7 * 1024 * 1024;

/** Bodies of at least this many bytes are "large" and run a few at a time (memory: see README, Failure behaviour). */
export const DEFAULT_LARGE_BODY_BYTES = 512 * 1024;
export const DEFAULT_MAX_LARGE_REVIEWS = 2;

export function configSchema(policies: readonly AnyPolicy[]): Record<string, unknown> {
  const policyProps: Record<string, unknown> = {};
  for (const p of policies) {
    policyProps[p.id] = {
      type: 'object',
      additionalProperties: false,
      properties: {
        enabled: { type: 'boolean' },
        mode: { enum: p.modes ?? [...MODES] },
        params: p.paramsSchema,
      },
    };
  }
  return {
    type: 'object',
    additionalProperties: false,
    properties: {
      policies: { type: 'object', additionalProperties: false, properties: policyProps },
      exclusions: EXCLUSION_SCHEMA,
      server: {
        type: 'object',
        additionalProperties: false,
        properties: {
          maxBodyBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024 },
          // Well below the webhook's timeoutSeconds (5 in deploy/, at most 30).
          reviewDeadlineMs: { type: 'integer', minimum: 10, maximum: 25_000 },
          largeBodyBytes: { type: 'integer', minimum: 1024, maximum: 64 * 1024 * 1024 },
          maxLargeReviews: { type: 'integer', minimum: 1, maximum: 64 },
        },
      },
      cache: {
        type: 'object',
        additionalProperties: false,
        properties: { staleAfterSeconds: { type: 'integer', minimum: 1, maximum: 86400 } },
      },
      audit: {
        type: 'object',
        additionalProperties: false,
        properties: { intervalSeconds: { type: 'integer', minimum: 0, maximum: 86400 }, reports: { enum: [...REPORT_API_CHOICES] } },
      },
      kubernetesMinor: { type: 'integer', minimum: 16, maximum: 99 },
    },
  };
}

function describeAjvError(e: ErrorObject, knownPolicies: string[]): string {
  const at = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(top level)';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    if (e.instancePath === '/policies') return `policies.${extra}: unknown policy; known policies: ${knownPolicies.join(', ')}`;
    return `${at === '(top level)' ? '' : `${at}.`}${extra}: unknown field; remove it or check its spelling`;
  }
  if (e.keyword === 'enum') return `${at}: must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${at}: ${e.message}`;
}

function isEmptyObject(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.getPrototypeOf(raw) === Object.prototype && Object.keys(raw).length === 0;
}

export class ConfigLoader {
  private compiled: ValidateFunction | undefined;
  constructor(private readonly policies: readonly AnyPolicy[]) {}

  /** Compiled on first use: a run without a config file (a pre-commit check) spares the tenth of a second. */
  private get validate(): ValidateFunction {
    this.compiled ??= new (ajvLibrary().Ajv)({ allErrors: true, useDefaults: false, strict: false }).compile(configSchema(this.policies));
    return this.compiled;
  }

  /** Parse, validate and freeze a config document; an error names every bad field. */
  fromText(text: string, source = 'config'): Readonly<Config> {
    let raw: unknown;
    try {
      raw = parseYaml(text) ?? {};
    } catch (err) {
      throw new AdmissionError('INVALID_CONFIG', `${source}: not valid YAML: ${(err as Error).message}`);
    }
    return this.fromObject(raw, source);
  }

  fromObject(raw: unknown, source = 'config'): Readonly<Config> {
    // The empty configuration (no file) is valid by construction (test/unit/config-schema.test.ts holds it to that).
    if (!isEmptyObject(raw) && !this.validate(raw)) {
      const known = this.policies.map((p) => p.id);
      const problems = (this.validate.errors ?? []).map((e) => describeAjvError(e, known));
      throw new AdmissionError('INVALID_CONFIG', `${source}: ${[...new Set(problems)].join('; ')}`);
    }
    const input = raw as Partial<Config>;
    const known = new Set(this.policies.map((p) => p.id));
    const unknownIds = (input.exclusions ?? []).flatMap((e, i) => (e.policies ?? []).filter((id) => !known.has(id)).map((id) => `exclusions[${i}].policies: ${id}`));
    if (unknownIds.length > 0) {
      throw new AdmissionError('INVALID_CONFIG', `${source}: ${unknownIds.join('; ')}: unknown policy; known policies: ${[...known].join(', ')}`);
    }
    const config: Config = {
      policies: input.policies ?? {},
      exclusions: input.exclusions ?? [],
      server: {
        maxBodyBytes: input.server?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
        reviewDeadlineMs: input.server?.reviewDeadlineMs ?? DEFAULT_REVIEW_DEADLINE_MS,
        largeBodyBytes: input.server?.largeBodyBytes ?? DEFAULT_LARGE_BODY_BYTES,
        maxLargeReviews: input.server?.maxLargeReviews ?? DEFAULT_MAX_LARGE_REVIEWS,
      },
      cache: { staleAfterSeconds: input.cache?.staleAfterSeconds ?? DEFAULT_STALE_AFTER_SECONDS },
      audit: { intervalSeconds: input.audit?.intervalSeconds ?? DEFAULT_AUDIT_INTERVAL_SECONDS, reports: input.audit?.reports ?? 'auto' },
      kubernetesMinor: input.kubernetesMinor,
    };
    return deepFreeze(config);
  }

  fromFile(path: string): Readonly<Config> {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new AdmissionError('INVALID_CONFIG', `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return this.fromText(text, path);
  }

  policySet(config: Readonly<Config>): PolicySet {
    return new PolicySet(this.policies, config.policies, config.exclusions);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
