/**
 * When to refresh: at about half a credential's lifetime (jittered so that many credentials minted
 * together do not all refresh together), at each cron time, and after failures with capped backoff.
 * Pure: time and randomness come in as arguments.
 *
 * Cron parsing uses cron-parser rather than node-cron: node-cron 4 validates expressions, but it can
 * only compute a next fire time from a task it registers globally, counted from the wall clock, while
 * here the next time after any given instant is needed without side effects.
 */
import { CronExpressionParser } from 'cron-parser';
import { CRON_TIMEZONE } from '../api/constants.js';
import { computeBackoffDelay, type BackoffOptions } from './backoff.js';

export type Random = () => number;

/** Provider retries after a failed refresh: 5 s doubling to 5 min, between half and all of each delay. */
export const REFRESH_BACKOFF: BackoffOptions = { baseDelayMs: 5_000, maxDelayMs: 5 * 60_000, jitter: { kind: 'equal' } };
/** A refresh is due at least this long before expiry when the lifetime allows, leaving room to retry. */
export const EXPIRY_MARGIN_MS = 5 * 60_000;
const JITTER_FRACTION = 0.1;

const CRON_FIELDS = ['minute', 'hour', 'day-of-month', 'month', 'day-of-week'] as const;

/** The macros Kubernetes CronJob accepts, spelled out so that only 5-field expressions reach the parser. */
const CRON_MACROS: Readonly<Record<string, string>> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

/** Says what is wrong with a cron expression (a phrase naming the field), or undefined when it is usable. */
export function cronProblem(schedule: string): string | undefined {
  const expression = expandMacro(schedule);
  const fields = expression.split(/\s+/).filter((field) => field !== '');
  if (fields.length !== CRON_FIELDS.length) {
    return `expected 5 fields (minute hour day-of-month month day-of-week) but found ${fields.length}`;
  }
  const hashed = fields.findIndex((field) => /(^|[,/-])H($|[,/(-])/.test(field));
  // cron-parser reads H as a random value per parse, so the next fire time would change on every reconcile.
  if (hashed >= 0) return `${CRON_FIELDS[hashed]} uses "H", which is not supported; give explicit values`;
  const whole = parseError(fields.join(' '));
  if (whole === undefined) return undefined;
  return fieldProblem(fields) ?? lowerFirst(whole);
}

/** The first fire time strictly after `after`, read in UTC. Throws on an invalid expression. */
export function nextCronTime(schedule: string, after: Date): Date {
  const problem = cronProblem(schedule);
  if (problem) throw new Error(`invalid cron expression ${JSON.stringify(schedule)}: ${problem}`);
  return CronExpressionParser.parse(expandMacro(schedule), { currentDate: after, tz: CRON_TIMEZONE }).next().toDate();
}

/**
 * issuedAt + lifetime/2 ± up to 10% of the lifetime, never later than expiresAt − 5 min when the
 * lifetime leaves room for that (with jitter at most 60% of the lifetime, that bites under 12.5 min).
 * `random` returns a number in [0, 1).
 */
export function refreshAt(input: { issuedAt: Date; expiresAt: Date; random: Random }): Date {
  const issued = input.issuedAt.getTime();
  const expires = input.expiresAt.getTime();
  const lifetime = expires - issued;
  if (lifetime <= 0) return new Date(issued);
  const jitter = (clampUnit(input.random()) * 2 - 1) * JITTER_FRACTION * lifetime;
  let at = issued + lifetime / 2 + jitter;
  const latest = expires - EXPIRY_MARGIN_MS;
  if (latest > issued) at = Math.min(at, latest);
  return new Date(Math.round(at));
}

/**
 * Delay before retry number `attempt` (1 = first retry): base·2^(attempt−1) capped at max, then
 * "equal jitter" (between half and all of it), so retries spread out but never come back hot.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = REFRESH_BACKOFF, random: Random = Math.random): number {
  return Math.round(computeBackoffDelay(Math.max(0, Math.floor(attempt) - 1), options, () => clampUnit(random())));
}

/** The earliest of the times given; undefined when none is. */
export function nextRefresh(input: { refreshAt?: Date | undefined; cronNext?: Date | undefined }): Date | undefined {
  const times = [input.refreshAt, input.cronNext].filter((time): time is Date => time !== undefined);
  if (times.length === 0) return undefined;
  return new Date(Math.min(...times.map((time) => time.getTime())));
}

function expandMacro(schedule: string): string {
  const trimmed = schedule.trim();
  return CRON_MACROS[trimmed.toLowerCase()] ?? trimmed;
}

/** Parses each field alone (the others '*') so the message can name the field at fault. */
function fieldProblem(fields: string[]): string | undefined {
  for (const [index, field] of fields.entries()) {
    const alone = CRON_FIELDS.map((_, i) => (i === index ? field : '*')).join(' ');
    const error = parseError(alone);
    if (error !== undefined) return describeFieldError(CRON_FIELDS[index] ?? 'field', field, error);
  }
  return undefined;
}

function describeFieldError(name: string, field: string, error: string): string {
  const range = /expected range (\d+)-(\d+)/.exec(error);
  if (range) return `${name} must be ${range[1]}-${range[2]}`;
  return `${name} ${JSON.stringify(field)} is invalid (${lowerFirst(error)})`;
}

function parseError(expression: string): string | undefined {
  try {
    // next() too: some impossible combinations are only found while searching for a match.
    CronExpressionParser.parse(expression, { currentDate: new Date(0), tz: CRON_TIMEZONE }).next();
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

function lowerFirst(text: string): string {
  return text.charAt(0).toLowerCase() + text.slice(1);
}

function clampUnit(value: number): number {
  return Number.isFinite(value) ? Math.min(Math.max(value, 0), 1) : 0.5;
}
