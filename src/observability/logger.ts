import { pino, type DestinationStream, type Logger, type LevelWithSilent } from 'pino';

export type { Logger } from 'pino';

/**
 * Every path that could ever hold credential material. Redaction is a safety
 * net: the code logs names of keys, never values, but a careless `err` or
 * object dump must still not leak a token.
 */
export const REDACT_PATHS: readonly string[] = [
  'password',
  '*.password',
  'token',
  '*.token',
  'auth',
  '*.auth',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'authorizationToken',
  '*.authorizationToken',
  'secretAccessKey',
  '*.secretAccessKey',
  'sessionToken',
  '*.sessionToken',
  'private_key',
  '*.private_key',
  'data',
  '*.data',
  'stringData',
  '*.stringData',
  'dockerConfigJson',
  '*.dockerConfigJson',
  // Bracket notation takes the key literally: no escaping of the dot (an escaped one never matched).
  '[".dockerconfigjson"]',
  '*[".dockerconfigjson"]',
  'AWS_SECRET_ACCESS_KEY',
  '*.AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  '*.AWS_SESSION_TOKEN',
];

export interface LoggerOptions {
  level: LevelWithSilent;
  /** Human-readable output (pino-pretty) when attached to a terminal. */
  pretty: boolean;
  destination?: NodeJS.WritableStream;
}

/**
 * Two formats: pino-pretty for a person at a terminal, and one JSON object per line otherwise (a
 * container's stdout, a pipe, `LOG_FORMAT=json`), whose `level` is the level's name ("info", "warn",
 * "error"), as log pipelines (Loki, Elasticsearch, Cloud Logging…) expect, not pino's number.
 */
export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: { app: 'regcred-operator' },
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.pretty) {
    // pino-pretty reads pino's numeric levels to colour them: the pretty output keeps them.
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' } },
    });
  }
  const json = { ...base, formatters: { level: (label: string) => ({ level: label }) } };
  return options.destination ? pino(json, options.destination as DestinationStream) : pino(json);
}
