import { mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { certWriteError, createCertBundle, writeCertBundle, writeFileAtomic } from '../../src/tls/certs.js';
import { AdmissionError } from '../../src/review/errors.js';
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

describe('certificate checks at start and on reload (issue 15 item 8)', () => {
  const names = { service: 'aigw-admission', namespace: 'aigw-admission' };
  const dirWith = (files: Record<string, string>) => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tlsdir-'));
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    return dir;
  };
  const startError = async (dir: string, now?: Date) => {
    try {
      await tlsDirSource(dir, names, silentLogger, 3_600_000, { now: now && (() => now) }).start(() => {});
      return 'started';
    } catch (err) {
      return `${(err as AdmissionError).code} ${(err as Error).message}`;
    }
  };
  const good = createCertBundle(names);
  const fix = 'replace tls.crt and tls.key (or remove both to have new ones created)';

  it('refuses to start on empty, garbage, mismatched, expired or foreign files, with one line naming the problem', async () => {
    let dir = dirWith({ 'tls.crt': '', 'tls.key': good.key });
    expect(await startError(dir)).toBe(`INVALID_CERTIFICATE unusable serving certificate: ${dir}: tls.crt is not a PEM certificate; ${fix}`);
    dir = dirWith({ 'tls.crt': good.cert, 'tls.key': 'garbage' });
    expect(await startError(dir)).toBe(`INVALID_CERTIFICATE unusable serving certificate: ${dir}: tls.key is not a PEM private key; ${fix}`);
    dir = dirWith({ 'tls.crt': good.cert, 'tls.key': createCertBundle(names).key });
    expect(await startError(dir)).toBe(`INVALID_CERTIFICATE unusable serving certificate: ${dir}: tls.key does not belong to tls.crt; ${fix}`);
    const old = createCertBundle({ ...names, now: new Date('2020-01-01T00:00:00Z'), validityDays: 30 });
    dir = dirWith({ 'tls.crt': old.cert, 'tls.key': old.key });
    expect(await startError(dir)).toBe(`INVALID_CERTIFICATE unusable serving certificate: ${dir}: tls.crt expired at 2020-01-31T00:00:00.000Z; ${fix}`);
    const other = createCertBundle({ service: 'hook', namespace: 'infra' });
    dir = dirWith({ 'tls.crt': other.cert, 'tls.key': other.key });
    expect(await startError(dir)).toBe(
      `INVALID_CERTIFICATE unusable serving certificate: ${dir}: tls.crt does not cover aigw-admission.aigw-admission.svc (its names: DNS:hook, DNS:hook.infra, DNS:hook.infra.svc, DNS:hook.infra.svc.cluster.local); ${fix}`,
    );
    expect(await startError(dirWith({ 'tls.crt': good.cert, 'tls.key': good.key }))).toBe('started');
    expect(new AdmissionError('INVALID_CERTIFICATE', 'x').exitCode).toBe(78);
  });

  it('a reload that fails the checks is skipped, logged and counted once; the next good pair is served', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tlsdir-'));
    const logged: unknown[] = [];
    const logger = { ...silentLogger, warn: (o: unknown) => logged.push(o), info: (o: unknown) => logged.push(o) };
    const reloads: string[] = [];
    const source = tlsDirSource(dir, names, logger, 3_600_000, { onReload: (r) => reloads.push(r) });
    const changes: ServingCerts[] = [];
    await source.start((c) => changes.push(c));
    source.stop();
    logged.length = 0;
    writeFileSync(join(dir, 'tls.crt'), 'garbage');
    source.poll();
    source.poll(); // the same bad files: not logged or counted again
    expect(logged).toEqual([{ event: 'certs_reload_skipped', dir, reason: 'tls.crt is not a PEM certificate' }]);
    expect(reloads).toEqual(['skipped']);
    expect(changes).toEqual([]);
    const renewed = createCertBundle(names);
    writeCertBundle(dir, renewed);
    source.poll();
    expect(reloads).toEqual(['skipped', 'applied']);
    expect(changes).toEqual([{ cert: renewed.cert, key: renewed.key, ca: renewed.caCert }]);
  });
});

describe('certificate files are written atomically; a failed write is one line with the fix (issue 15 items 8, 9)', () => {
  it('leaves exactly the four files, no temporary ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tlsdir-'));
    writeCertBundle(dir, createCertBundle({ service: 'a', namespace: 'b' }));
    writeCertBundle(dir, createCertBundle({ service: 'a', namespace: 'b' }));
    expect(readdirSync(dir).sort()).toEqual(['ca.crt', 'ca.key', 'tls.crt', 'tls.key']);
  });

  it('a failed write leaves the previous file and no temporary one', () => {
    const dir = mkdtempSync(join(tmpdir(), 'aigw-tlsdir-'));
    writeFileSync(join(dir, 'tls.crt'), 'previous');
    mkdirSync(join(dir, 'tls.crt.d'));
    // Renaming a file over a directory fails after the temporary file was written.
    expect(() => writeFileAtomic(join(dir, 'tls.crt.d'), 'new')).toThrow(/EISDIR|ENOTEMPTY|EEXIST|EPERM/);
    expect(readdirSync(dir).sort()).toEqual(['tls.crt', 'tls.crt.d']);
    expect(readFileSync(join(dir, 'tls.crt'), 'utf8')).toBe('previous');
  });

  it.each([
    ['EACCES', "/t: EACCES: permission denied; make the directory writable by the webhook's user, or point --tls-dir at one that is"],
    ['EROFS', '/t: EROFS: read-only file system; mount it writable, or point --tls-dir at a writable directory'],
    ['ENOSPC', '/t: ENOSPC: no space left on the device; free some space, or point --tls-dir at another file system'],
    ['ENOTDIR', '/t: ENOTDIR: a part of the path is a file, not a directory; point --tls-dir at a directory'],
  ])('%s', (code, detail) => {
    const err = certWriteError('/t', Object.assign(new Error(code), { code }));
    expect([err.message, err.exitCode]).toEqual([`cannot write the certificates: ${detail}`, 73]);
  });
});
