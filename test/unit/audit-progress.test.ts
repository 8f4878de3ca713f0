import { describe, expect, it } from 'vitest';
import { progressLine } from '../../src/audit/progress.js';

describe('audit progress line', () => {
  it('redraws one line in place on a terminal and erases it at the end', () => {
    const written: string[] = [];
    const p = progressLine({ isTTY: true, write: (t: string) => written.push(t) });
    p.update('listing aigatewayroutes: 500');
    p.update('listing aigatewayroutes: 1000');
    p.clear();
    p.clear();
    expect(written).toEqual(['\r\x1b[Klisting aigatewayroutes: 500', '\r\x1b[Klisting aigatewayroutes: 1000', '\r\x1b[K']);
  });

  it('writes nothing when stderr is not a terminal', () => {
    const written: string[] = [];
    const p = progressLine({ isTTY: false, write: (t: string) => written.push(t) });
    p.update('listing aigatewayroutes: 500');
    p.clear();
    const piped = progressLine({ write: (t: string) => written.push(t) });
    piped.update('evaluating…');
    expect(written).toEqual([]);
  });
});
