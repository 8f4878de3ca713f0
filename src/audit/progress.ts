/** Where the progress line goes: stderr in the CLI, a fake in tests. */
export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

/**
 * One status line redrawn in place (`\r` + erase line) for a person watching a terminal; nothing at all when the
 * stream is a pipe or a CI log, where redrawn lines would pile up.
 */
export function progressLine(stream: ProgressStream): { update(text: string): void; clear(): void } {
  const tty = stream.isTTY === true;
  let shown = false;
  return {
    update(text) {
      if (!tty) return;
      stream.write(`\r\x1b[K${text}`);
      shown = true;
    },
    clear() {
      if (!tty || !shown) return;
      stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
