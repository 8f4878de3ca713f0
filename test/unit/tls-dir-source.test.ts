import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createCertBundle, writeCertBundle } from '../../src/tls/certs.js';
import { tlsDirSource, type ServingCerts } from '../../src/tls/source.js';
import { silentLogger } from '../../src/review/deps.js';

describe('tlsDirSource (cert-manager renews the mounted Secret)', () => {
  it('creates certificates when absent, then hands over a renewed pair once both files match, never a half-written one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tlsdir-'));
    const opts = { service: 'aigw-admission', namespace: 'aigw-admission' };
    const source = tlsDirSource(dir, opts, silentLogger, 3_600_000);
    const changes: ServingCerts[] = [];
    const first = await source.start((c) => changes.push(c));
    source.stop();

    source.poll();
    expect(changes).toEqual([]); // unchanged files

    const renewed = createCertBundle(opts);
    writeFileSync(join(dir, 'tls.crt'), renewed.cert); // the key is not there yet
    source.poll();
    expect(changes).toEqual([]);

    writeCertBundle(dir, renewed);
    source.poll();
    expect(changes).toEqual([{ cert: renewed.cert, key: renewed.key, ca: renewed.caCert }]);
    expect(first.cert).not.toBe(renewed.cert);
  });
});
