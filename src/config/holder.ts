import { existsSync, unwatchFile, watchFile } from 'node:fs';
import { ConfigLoader, type Config } from './config.js';
import type { PolicySet } from '../review/policy-set.js';
import type { AnyPolicy } from '../review/policy.js';
import type { Logger } from '../review/deps.js';
import { AdmissionError } from '../review/errors.js';

export const DEFAULT_CONFIG_PATH = 'config.yaml';

/**
 * The frozen config and the policy set compiled from it. Reloaded when the file changes (a ConfigMap update swaps a
 * symlink, so the file is polled rather than watched); a bad new file is logged and the last good one stays.
 */
export class ConfigHolder {
  private current: { config: Readonly<Config>; policies: PolicySet };
  readonly loader: ConfigLoader;
  private watching = false;

  constructor(
    policies: readonly AnyPolicy[],
    readonly path: string | undefined,
  ) {
    this.loader = new ConfigLoader(policies);
    this.current = this.load();
  }

  /** Resolve `--config`: an explicit path must exist; the default `config.yaml` is optional. */
  static resolvePath(explicit: string | undefined): string | undefined {
    if (explicit) {
      if (!existsSync(explicit)) throw new AdmissionError('INVALID_CONFIG', `--config ${explicit}: no such file`);
      return explicit;
    }
    return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined;
  }

  private load(): { config: Readonly<Config>; policies: PolicySet } {
    const config = this.path ? this.loader.fromFile(this.path) : this.loader.fromObject({});
    return { config, policies: this.loader.policySet(config) };
  }

  get config(): Readonly<Config> {
    return this.current.config;
  }

  get policies(): PolicySet {
    return this.current.policies;
  }

  reload(logger: Logger): boolean {
    try {
      this.current = this.load();
      logger.info({ event: 'config_reloaded', path: this.path }, 'configuration reloaded');
      return true;
    } catch (err) {
      logger.error({ event: 'config_reload_failed', path: this.path, message: (err as Error).message }, 'configuration not reloaded; keeping the previous one');
      return false;
    }
  }

  watch(logger: Logger, intervalMs = 2000): void {
    if (!this.path || this.watching) return;
    this.watching = true;
    watchFile(this.path, { interval: intervalMs, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size) this.reload(logger);
    });
  }

  unwatch(): void {
    if (this.path && this.watching) unwatchFile(this.path);
    this.watching = false;
  }
}
