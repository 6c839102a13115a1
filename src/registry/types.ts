/**
 * What a registry verification is asked and what it answers. The prober (src/registry/probe.ts)
 * implements it; the reconcile (src/reconcile/verifications.ts) runs it outside the workers and turns
 * the answer into the `Verified` condition, `status.rateLimit`, Events and metrics.
 *
 * Nothing here holds a token, password or Authorization header once the call returns: results carry
 * hosts, images, HTTP statuses and registry error codes only.
 */
import type { RegistryLogin } from '../providers/types.js';

/**
 * The reasons of the Verified condition that a probe can produce (`Disabled` and `Verifying` are the
 * reconcile's). `InvalidImage`: an entry of spec.verify.images that cannot be parsed, or that no auths
 * key of the credential covers (the kubelet would not use this credential for it).
 */
export type ProbeReason = 'Verified' | 'Unauthorized' | 'Denied' | 'ImageNotFound' | 'InvalidImage' | 'RateLimited' | 'Unreachable';

/** The outcome at one registry host (and one image, when the user named images for that host). */
export interface HostOutcome {
  /** host[:port] whose /v2/ API was called (Docker Hub: registry-1.docker.io). */
  host: string;
  /** The image as the user wrote it in spec.verify.images, when this outcome is about one. */
  image?: string;
  reason: ProbeReason;
  /** One sentence naming the host (and image), what the registry said, and what to do. No secrets. */
  message: string;
}

/** Docker Hub pull headroom, from the ratelimit-limit / ratelimit-remaining headers. */
export interface RateLimitHeadroom {
  limit: number;
  remaining: number;
  windowSeconds: number;
  checkedAt: Date;
}

export interface VerificationRequest {
  /** The logins the published Secret holds (one per auths key). */
  logins: readonly RegistryLogin[];
  /** spec.verify.images, as written. Each is checked with the login the kubelet would use for it. */
  images: readonly string[];
  signal: AbortSignal;
}

export interface VerificationResult {
  /** One per probed host, plus one per named image; hosts whose auths key is a glob are skipped. */
  outcomes: HostOutcome[];
  /** Present when a login is for Docker Hub and the headroom could be read. */
  rateLimit?: RateLimitHeadroom;
  /** How long the whole verification took. */
  durationMs: number;
}

export interface Verifier {
  verify(request: VerificationRequest): Promise<VerificationResult>;
}
