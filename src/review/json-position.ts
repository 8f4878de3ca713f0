/**
 * Where a JSON text first goes wrong, for error messages that must not quote it (V8's messages quote the input, and a
 * request body may hold secret data). Only runs after JSON.parse has failed; iterative, so any nesting depth is fine.
 */
export function jsonErrorPosition(text: string): number {
  const n = text.length;
  let i = 0;
  const stack: number[] = []; // 0x5b '[' or 0x7b '{'
  let opened = false; // the top container has no member yet
  const ws = () => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return;
      i++;
    }
  };
  const digits = () => {
    const start = i;
    while (i < n && text.charCodeAt(i) >= 0x30 && text.charCodeAt(i) <= 0x39) i++;
    return i > start;
  };
  /** Scans a string at i; false with i at the offending character. */
  const string = (): boolean => {
    i++; // the opening quote
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        const e = text[i + 1];
        if (e === 'u') {
          i += 2;
          for (let k = 0; k < 4; k++, i++) if (!/[0-9a-fA-F]/.test(text[i] ?? '')) return false;
        } else if (e !== undefined && '"\\/bfnrt'.includes(e)) i += 2;
        else return ((i += 1), false);
      } else i++;
    }
    return false;
  };
  /** Scans a scalar or opens a container at i; false with i at the offending character. */
  const value = (): boolean => {
    ws();
    const c = text[i];
    if (c === '{' || c === '[') {
      stack.push(text.charCodeAt(i));
      opened = true;
      i++;
      return true;
    }
    if (c === '"') return string();
    for (const word of ['true', 'false', 'null']) {
      if (text.startsWith(word, i)) return ((i += word.length), true);
    }
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) {
      if (c === '-') i++;
      if (text[i] === '0') i++;
      else if (!digits()) return false;
      if (text[i] === '.') {
        i++;
        if (!digits()) return false;
      }
      if (text[i] === 'e' || text[i] === 'E') {
        i++;
        if (text[i] === '+' || text[i] === '-') i++;
        if (!digits()) return false;
      }
      return true;
    }
    return false;
  };
  if (!value()) return i;
  for (;;) {
    ws();
    const top = stack[stack.length - 1];
    if (top === undefined) return i < n ? i : -1;
    const c = text[i];
    // Just after an opening bracket: an empty container, or its first member without a comma.
    const justOpened = opened;
    opened = false;
    if (top === 0x5b) {
      if (c === ']') {
        stack.pop();
        i++;
        continue;
      }
      if (!justOpened) {
        if (c !== ',') return i;
        i++;
      }
      if (!value()) return i;
    } else {
      if (c === '}') {
        stack.pop();
        i++;
        continue;
      }
      if (!justOpened) {
        if (c !== ',') return i;
        i++;
      }
      ws();
      if (text[i] !== '"' || !string()) return i;
      ws();
      if (text[i] !== ':') return i;
      i++;
      if (!value()) return i;
    }
  }
}

/** 1-based line and column of a character offset. */
export function lineAndColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}
