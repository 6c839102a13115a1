/**
 * What the Verified condition says and whether to probe the registries now: one pure function of the
 * published credential, spec.verify, what this process remembers of its probes, and the status.
 *
 * A probe runs after every new credential (a mint, a source change) and every spec change (the key is
 * the published credential's digest and the spec generation), then every spec.verify.intervalMinutes.
 * Probes run outside the workers (src/reconcile/verifications.ts); their settling queues the credential
 * again. Verification never changes what is published: Ready keeps meaning "published everywhere".
 *
 * After a restart, a Verified condition of the current generation checked after the credential was
 * obtained and less than an interval ago is taken as it is, instead of probing every registry at once.
 */
import type { RateLimitStatus, RegistryCredentialStatus, VerifySpec } from '../api/types.js';
import type { HostOutcome, ProbeReason, RateLimitHeadroom, VerificationResult } from '../registry/types.js';
import { getCondition } from '../status/conditions.js';
import { parseKubeTime, toKubeTime } from '../status/time.js';

export const DEFAULT_VERIFY_INTERVAL_MINUTES = 360;
export const DEFAULT_HEADROOM_PERCENT = 10;

export interface VerifiedCondition {
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

/** A probe that finished, reduced to what status shows (no logins are kept). */
export interface VerificationSettled {
  key: string;
  at: Date;
  condition: VerifiedCondition;
  /** Docker Hub headroom read by this probe. */
  rateLimit?: RateLimitStatus;
  /** The credential has a Docker Hub entry (a probe that could not read headroom keeps the last reading). */
  dockerHub: boolean;
  /**
   * True after the last answer before it was a refusal (False), whatever the credential then: a fixed
   * source, checked as a new credential (Verifying in between), is still a recovery. Cleared once reported.
   */
  recovered?: boolean;
}

export interface VerificationMemory {
  inFlight?: { key: string; startedAt: Date; abort: AbortController };
  settled?: VerificationSettled;
}

export interface VerificationInput {
  now: Date;
  spec?: VerifySpec;
  generation?: number;
  /** The credential the Secrets hold after this reconcile; absent: nothing valid is published. */
  published?: { digest: string; obtainedAt: Date };
  memory: VerificationMemory;
  previous: RegistryCredentialStatus;
  headroomPercent: number;
}

/** What the status says about verification; absent fields of the status are removed. */
export interface VerificationFacts {
  condition: VerifiedCondition;
  lastVerifiedTime?: Date;
  rateLimit?: RateLimitStatus;
}

export interface VerificationDecision {
  facts: VerificationFacts;
  /** Start a probe of the published credential under this key. */
  start?: string;
  /** The probe in flight is for an older credential or spec, or verification is off: stop it. */
  abortInFlight?: boolean;
  /** Adopt this as settled (a result found in the status after a restart). */
  adopt?: VerificationSettled;
  /** Run again then: the next periodic verification. */
  wakeAt?: Date;
}

/** The probe key: a new credential or a new spec generation means a new probe. */
export function verificationKey(digest: string, generation: number | undefined): string {
  return `${digest}/${generation ?? 0}`;
}

export function verifyIntervalMs(spec: VerifySpec | undefined): number {
  return (spec?.intervalMinutes ?? DEFAULT_VERIFY_INTERVAL_MINUTES) * 60_000;
}

/** Reasons that describe a probe's answer (not the absence of one). */
const PROBE_REASONS: ReadonlySet<string> = new Set<ProbeReason>(['Verified', 'Unauthorized', 'Denied', 'ImageNotFound', 'InvalidImage', 'RateLimited', 'Unreachable']);

export function decideVerification(input: VerificationInput): VerificationDecision {
  const { now, spec, memory, previous } = input;
  const keptRateLimit = previous.rateLimit;
  if (spec?.enabled === false) {
    return {
      facts: { condition: { status: 'Unknown', reason: 'Disabled', message: 'spec.verify.enabled is false: the registries are not checked' } },
      abortInFlight: memory.inFlight !== undefined,
    };
  }
  if (!input.published) {
    return {
      facts: {
        condition: { status: 'Unknown', reason: 'NotPublished', message: 'no credential is published yet to check at its registries; see TokenAvailable' },
        ...lastVerified(previous),
        ...(keptRateLimit ? { rateLimit: keptRateLimit } : {}),
      },
    };
  }
  const key = verificationKey(input.published.digest, input.generation);
  const interval = verifyIntervalMs(spec);
  const abortInFlight = memory.inFlight !== undefined && memory.inFlight.key !== key;
  const inFlight = abortInFlight ? undefined : memory.inFlight;

  let settled = memory.settled?.key === key ? memory.settled : undefined;
  let adopt: VerificationSettled | undefined;
  if (!settled && !inFlight) {
    adopt = fromStatus(previous, key, input.generation, input.published.obtainedAt, now, interval);
    settled = adopt;
  }
  if (settled) {
    const due = new Date(settled.at.getTime() + interval);
    const facts = settledFacts(settled, keptRateLimit, input.headroomPercent);
    if (inFlight) return { facts, abortInFlight, ...(adopt ? { adopt } : {}) };
    if (now.getTime() >= due.getTime()) return { facts, start: key, abortInFlight, ...(adopt ? { adopt } : {}) };
    return { facts, wakeAt: due, abortInFlight, ...(adopt ? { adopt } : {}) };
  }
  const since = inFlight?.startedAt ?? now;
  return {
    facts: {
      condition: { status: 'Unknown', reason: 'Verifying', message: `checking the published credential at its registries (started at ${toKubeTime(since)})` },
      ...(keptRateLimit ? { rateLimit: keptRateLimit } : {}),
    },
    ...(inFlight ? {} : { start: key }),
    abortInFlight,
  };
}

function lastVerified(previous: RegistryCredentialStatus): { lastVerifiedTime?: Date } {
  const at = parseKubeTime(previous.lastVerifiedTime);
  return at ? { lastVerifiedTime: at } : {};
}

function settledFacts(settled: VerificationSettled, kept: RateLimitStatus | undefined, headroomPercent: number): VerificationFacts {
  const rateLimit = settled.rateLimit ?? (settled.dockerHub ? kept : undefined);
  const condition = { ...settled.condition };
  const low = rateLimit ? headroomLow(rateLimit, headroomPercent) : false;
  if (low && rateLimit) condition.message = `${condition.message}; ${headroomNote(rateLimit)}`;
  return { condition, lastVerifiedTime: settled.at, ...(rateLimit ? { rateLimit } : {}) };
}

/** A result in the status that still stands for the credential published now (after a restart). */
function fromStatus(
  previous: RegistryCredentialStatus,
  key: string,
  generation: number | undefined,
  obtainedAt: Date,
  now: Date,
  intervalMs: number,
): VerificationSettled | undefined {
  const condition = getCondition(previous.conditions, 'Verified');
  const at = parseKubeTime(previous.lastVerifiedTime);
  if (!condition || !at || !PROBE_REASONS.has(condition.reason)) return undefined;
  if (condition.observedGeneration !== generation) return undefined;
  if (at.getTime() < obtainedAt.getTime() || now.getTime() - at.getTime() >= intervalMs) return undefined;
  // The message may carry a headroom note from the last reading: it is added again from status.rateLimit.
  const message = condition.message.replace(/; Docker Hub pull headroom is low: .*$/, '');
  return {
    key,
    at,
    condition: { status: condition.status, reason: condition.reason, message },
    ...(previous.rateLimit ? { rateLimit: previous.rateLimit } : {}),
    dockerHub: previous.rateLimit !== undefined,
  };
}

export function headroomLow(rateLimit: RateLimitStatus, percent: number): boolean {
  return rateLimit.limit > 0 && rateLimit.remaining * 100 < rateLimit.limit * percent;
}

function headroomNote(r: RateLimitStatus): string {
  const hours = r.windowSeconds % 3600 === 0 ? `${r.windowSeconds / 3600} h` : `${r.windowSeconds} s`;
  return `Docker Hub pull headroom is low: ${r.remaining} of ${r.limit} pulls left in the ${hours} window (checked at ${r.checkedAt}); authenticate every pull or use a pull-through cache`;
}

// Which outcome speaks for the credential: a definite refusal first, then what could not be known.
const SEVERITY: Record<ProbeReason, number> = {
  Unauthorized: 0,
  Denied: 1,
  ImageNotFound: 2,
  InvalidImage: 3,
  RateLimited: 4,
  Unreachable: 5,
  Verified: 6,
};

const STATUS_OF: Record<ProbeReason, VerifiedCondition['status']> = {
  Unauthorized: 'False',
  Denied: 'False',
  ImageNotFound: 'False',
  InvalidImage: 'False',
  RateLimited: 'Unknown',
  Unreachable: 'Unknown',
  Verified: 'True',
};

/** The condition a probe's outcomes add up to. Messages come from the prober: hosts and images, never secrets. */
export function conditionOf(result: Pick<VerificationResult, 'outcomes'>): VerifiedCondition {
  const outcomes = [...result.outcomes].sort((a, b) => SEVERITY[a.reason] - SEVERITY[b.reason]);
  const worst = outcomes[0];
  if (!worst) {
    return {
      status: 'Unknown',
      reason: 'Unreachable',
      message: 'no registry host of this credential can be probed (its registries are globs): name images in spec.verify.images to check them',
    };
  }
  if (worst.reason === 'Verified') {
    return { status: 'True', reason: 'Verified', message: verifiedMessage(outcomes) };
  }
  const others = outcomes.slice(1).filter((o) => o.reason !== 'Verified');
  const more = others.length > 0 ? `; also ${others.slice(0, 3).map(describe).join(', ')}${others.length > 3 ? ` and ${others.length - 3} more` : ''}` : '';
  return { status: STATUS_OF[worst.reason], reason: worst.reason, message: `${worst.message}${more}` };
}

function describe(o: HostOutcome): string {
  return `${o.image ?? o.host}: ${o.reason}`;
}

function verifiedMessage(outcomes: HostOutcome[]): string {
  const hosts = [...new Set(outcomes.filter((o) => !o.image).map((o) => o.host))];
  const images = outcomes.filter((o) => o.image).map((o) => o.image!);
  const parts = [];
  if (hosts.length > 0) parts.push(`${hosts.join(', ')} ${hosts.length === 1 ? 'accepts' : 'accept'} the credential`);
  if (images.length > 0) parts.push(`${images.length === 1 ? 'image' : 'images'} ${images.join(', ')} readable`);
  return parts.join('; ');
}

/** The status form of a headroom reading. */
export function rateLimitStatus(headroom: RateLimitHeadroom): RateLimitStatus {
  return { limit: headroom.limit, remaining: headroom.remaining, windowSeconds: headroom.windowSeconds, checkedAt: toKubeTime(headroom.checkedAt) };
}
