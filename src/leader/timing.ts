/**
 * The leader election's three durations and client-go's checks on them (NewLeaderElector). No imports:
 * src/config.ts validates the flags with it, and `regcred --help` must not load the Kubernetes client.
 */

/** client-go's JitterFactor: the acquire loop waits the retry period plus up to 1.2 times it. */
export const JITTER_FACTOR = 1.2;

export interface ElectionTiming {
  /** How long followers wait, from the last change they observed, before taking the lease. */
  leaseDurationMs: number;
  /** How long the leader keeps retrying a renewal before it gives up leadership. */
  renewDeadlineMs: number;
  /** How often the leader renews and followers look. */
  retryPeriodMs: number;
}

/** What is wrong with the durations, in client-go's terms, or undefined when they are usable. */
export function timingProblem(t: ElectionTiming): string | undefined {
  if (t.leaseDurationMs <= t.renewDeadlineMs) return 'the lease duration must be greater than the renew deadline';
  if (t.renewDeadlineMs <= JITTER_FACTOR * t.retryPeriodMs) return `the renew deadline must be greater than the retry period × ${JITTER_FACTOR}`;
  return undefined;
}
