/**
 * Live reload: on SIGHUP or a change to the config folder, the files are loaded and validated
 * again; a valid config goes to `apply`, an invalid one is reported (file, path, problem) and
 * the running config stays. Changes are debounced so an editor's several writes load once.
 */
import fs from 'node:fs';
import type { Logger } from 'pino';
import { ConfigError, loadConfig } from '../routing/config-load.js';
import type { TelgateConfig } from '../routing/config-schema.js';

export interface ConfigWatchOptions {
  dir: string;
  logger: Logger;
  apply(config: TelgateConfig): void;
  /** Told about each refused reload, for tests and metrics. */
  onRefused?(problems: ConfigError['problems']): void;
  debounceMs?: number;
}

export class ConfigWatcher {
  private watcher: fs.FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private loading: Promise<void> = Promise.resolve();

  constructor(private readonly options: ConfigWatchOptions) {}

  start(): void {
    this.watcher = fs.watch(this.options.dir, (_event, name) => {
      if (name && !/\.ya?ml$/.test(String(name))) return;
      this.schedule('file change');
    });
    this.watcher.on('error', (err) =>
      this.options.logger.warn({ err }, 'config folder watch failed'),
    );
  }

  /** Reloads after the debounce delay (SIGHUP calls this too). */
  schedule(reason: string): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.loading = this.loading.then(() => this.reload(reason));
    }, this.options.debounceMs ?? 200);
  }

  private async reload(reason: string): Promise<void> {
    const { dir, logger } = this.options;
    try {
      const config = await loadConfig(dir);
      logger.info({ reason, dir }, 'config loaded');
      this.options.apply(config);
    } catch (err) {
      if (!(err instanceof ConfigError)) {
        logger.error({ err, reason }, 'config reload failed');
        return;
      }
      for (const p of err.problems) {
        logger.error({ file: p.file, path: p.path, problem: p.message, reason }, 'config refused');
      }
      logger.error({ reason }, 'config reload refused: the running config stays');
      this.options.onRefused?.(err.problems);
    }
  }

  stop(): void {
    clearTimeout(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }
}
