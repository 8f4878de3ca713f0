import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cli, kubectl, rig, routeJson, scenarioNamespace, warningsOf } from './rig.js';

/**
 * The API server keeps 4 KiB of warnings per request (every webhook's together), cuts each to 256 characters, then
 * drops the rest. Issue 16 item 2: the mutation notes must not crowd out the findings.
 */
const BUDGET_RUNES = 4096;

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
    const check = cli(['check', '-f', join(dir, 'route.json'), '--offline', '--config', rig().configPath, '-o', 'json']);
    const findings = JSON.parse(check.stdout) as Array<{ policy: string; mode: string }>;
    const ids = [...new Set(findings.filter((f) => f.mode === 'warn' || f.mode === 'deny').map((f) => f.policy))].sort();
    expect(ids).toContain('fallover-retry-missing');

    const r = kubectl(['apply', '--dry-run=server', '-f', '-'], { input: route });
    expect(r.code).toBe(0);
    const warnings = warningsOf(r.stderr);
    // The server counts runes; once the total would pass 4096 it cuts every warning to 256 runes and keeps adding until
    // the total reaches 4096 (so a cut set can end a little above it). Within budget: nothing was cut or dropped.
    const runes = warnings.reduce((n, w) => n + [...w].length, 0);
    // Every finding's policy id reaches the user.
    expect.soft(ids.filter((id) => !warnings.some((w) => w.includes(`[${id}]`)))).toEqual([]);
    expect.soft(runes).toBeLessThanOrEqual(BUDGET_RUNES);
  });
});
