const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
/** Fields every line has, which the prefix already says. */
const NOISE = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'consumer']);

/** A service's JSON log line (pino) as one short line for people; other lines pass unchanged. */
export function formatLogLine(line: string): string {
  if (!line.startsWith('{')) return line;
  try {
    const record = JSON.parse(line) as Record<string, unknown>;
    const extra = Object.entries(record)
      .filter(([key]) => !NOISE.has(key))
      .map(([key, value]) => `${key}=${text(value)}`)
      .join(' ');
    return `${LEVELS[Number(record.level)] ?? 'info'} ${text(record.msg ?? '')}${extra ? `  ${extra}` : ''}`;
  } catch {
    return line;
  }
}

/** A value of a JSON line as text: a string as it is, anything else as JSON (numbers read the same). */
function text(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
