import { readFileSync } from 'node:fs';

/** A size field of /proc/<pid>/status in bytes (VmHWM: the peak RSS so far), or undefined where there is no /proc or no such process. */
export function procStatus(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : undefined;
  } catch {
    return undefined;
  }
}
