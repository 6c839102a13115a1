import { Writable } from 'node:stream';
import type { LevelWithSilent } from 'pino';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface CapturedLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A real logger (JSON, redaction and all) writing into memory, for tests that check what is logged. */
export function captureLog(
  level: LevelWithSilent = 'debug',
): { log: Logger; output: () => string; lines: () => CapturedLine[]; at: (level: string) => CapturedLine[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const log = createLogger({ level, pretty: false, destination });
  const output = (): string => chunks.join('');
  const lines = (): CapturedLine[] =>
    output()
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as CapturedLine);
  return { log, output, lines, at: (wanted) => lines().filter((l) => l.level === wanted) };
}
