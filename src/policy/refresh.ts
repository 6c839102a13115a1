import { backoffDelay, nextCronTime, nextRefresh, refreshAt, type Random } from './schedule.js';

/** What the operator knows, at the start of a reconcile, about the credential it publishes. */
export interface RefreshInput {
  now: Date;
  /** The provider issues credentials that expire (ECR, Google); static ones are re-read every time. */
  expiring: boolean;
  /** The spec changed since the last reconcile (status.observedGeneration is behind). */
  specChanged: boolean;
  /** The credential our Secrets hold now, if any. */
  published?: { expiresAt?: Date };
  /** status.nextRefreshTime: when the next mint (or retry) is due. */
  nextRefreshTime?: Date;
  /** status.failedRefreshAttempts */
  failedAttempts: number;
}

/**
 * Whether this reconcile calls the provider. With nothing changed and a
 * fresh credential published, it does not: a resync, a restart or a new
 * namespace reuses what the Secrets hold, and a failing provider is retried
 * only at the time the backoff (persisted in status) says.
 */
export function mintDue(input: RefreshInput): boolean {
  if (!input.expiring || input.specChanged) return true;
  if (!input.nextRefreshTime || input.now >= input.nextRefreshTime) return true;
  // Backing off after failures: the next attempt waits for its time, even across restarts.
  if (input.failedAttempts > 0) return false;
  // Nothing to reuse, or what is there has lapsed before its refresh time (edited, or a clock jump).
  return !isStillValid(input.published, input.now) || input.published?.expiresAt === undefined;
}

/** After a successful mint: about half the lifetime (jittered), or the next cron time if earlier. */
export function nextRefreshAfterSuccess(input: { now: Date; expiresAt?: Date; schedule?: string; random: Random }): Date | undefined {
  return nextRefresh({
    refreshAt: input.expiresAt ? refreshAt({ issuedAt: input.now, expiresAt: input.expiresAt, random: input.random }) : undefined,
    cronNext: input.schedule ? nextCronTime(input.schedule, input.now) : undefined,
  });
}

/**
 * After a failed mint: capped exponential backoff, so several attempts happen
 * before a published credential expires (5 s doubling to 5 min).
 */
export function nextRetryAfterFailure(input: { now: Date; attempts: number; random: Random }): Date {
  return new Date(input.now.getTime() + backoffDelay(input.attempts, undefined, input.random));
}

/** A published credential is usable until it expires; static ones never do. */
export function isStillValid(published: { expiresAt?: Date } | undefined, now: Date): boolean {
  if (!published) return false;
  return !published.expiresAt || published.expiresAt > now;
}
