import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, kubectl, rig, routeJson, scenarioNamespace, warningsOf } from './rig.js';

/**
 * The API server keeps 4 KiB of warnings per request (every webhook's together), cuts each to 256 characters, then
 * drops the rest. Issue 16 item 2: the mutation notes must not crowd out the findings.
 */
const BUDGET_BYTES = 4096;
const WARNING_CHARS = 256;

describe('the warnings budget, shared by both webhooks', () => {
  it('a 15-rule route with two priority levels and no retry: every finding reaches kubectl, within 4 KiB', () => {
    const ns = scenarioNamespace('budget');
    const rules = Array.from({ length: 15 }, (_, i) => ({
      name: `model-${i}`,
      matches: [{ headers: [{ type: 'Exact', name: 'x-ai-eg-model', value: `model-${i}` }] }],
      backendRefs: [
        { name: 'openai', priority: 0 },
        { name: 'anthropic', priority: 1 },
      ],
    }));
    const route = routeJson(ns, 'many-rules', rules);
    const dir = mkdtempSync(join(tmpdir(), 'aigw-e2e-budget-'));
    writeFileSync(join(dir, 'route.json'), route);
    // What the whole story is: the findings `check` gives for the same object and config.
    const check = cli(['check', join(dir, 'route.json'), '--config', rig().configPath, '-o', 'json']);
    const findings = JSON.parse(check.stdout) as Array<{ policy: string; mode: string }>;
    const ids = [...new Set(findings.filter((f) => f.mode === 'warn' || f.mode === 'deny').map((f) => f.policy))].sort();
    expect(ids).toContain('fallover-retry-missing');

    const r = kubectl(['apply', '--dry-run=server', '-f', '-'], { input: route });
    expect(r.code).toBe(0);
    const warnings = warningsOf(r.stderr);
    const bytes = warnings.reduce((n, w) => n + Buffer.byteLength(w), 0);
    expect(warnings.filter((w) => w.length > WARNING_CHARS)).toEqual([]);
    expect(bytes).toBeLessThanOrEqual(BUDGET_BYTES);
    // Every finding's policy id survives the cut.
    expect(ids.filter((id) => !warnings.some((w) => w.includes(`[${id}]`)))).toEqual([]);
  });
});
