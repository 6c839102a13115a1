import { Writable } from 'node:stream';
import { createLogger, type Logger } from '../../src/observability/logger.js';

export interface CapturedLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

/** A real logger (JSON, redaction and all) writing into memory, for tests that check what is logged. */
export function captureLog(level: 'debug' | 'info' = 'debug'): { log: Logger; lines: () => CapturedLine[]; at: (level: string) => CapturedLine[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const log = createLogger({ level, pretty: false, destination });
  const lines = (): CapturedLine[] =>
    chunks
      .join('')
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as CapturedLine);
  return { log, lines, at: (wanted) => lines().filter((l) => l.level === wanted) };
}
