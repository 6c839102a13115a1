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

export function createLogger(options: LoggerOptions): Logger {
  const base = {
    level: options.level,
    base: { app: 'regcred-operator' },
    redact: { paths: [...REDACT_PATHS], censor: '[REDACTED]' },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (options.pretty) {
    return pino({
      ...base,
      transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,app' } },
    });
  }
  return options.destination ? pino(base, options.destination as DestinationStream) : pino(base);
}
