/**
 * Why a pull failed, read from what the kubelet wrote: the container's `state.waiting` reason and message
 * and the pod's Events. The texts are the container runtime's (containerd, CRI-O, dockerd) wrapped by the
 * kubelet; test/support/kubelet-messages.ts has them with their sources.
 */

export const PULL_FAILURE_REASONS = ['ErrImagePull', 'ImagePullBackOff', 'InvalidImageName'] as const;
export type PullFailureReason = (typeof PULL_FAILURE_REASONS)[number];

export function isPullFailureReason(reason: string | undefined): reason is PullFailureReason {
  return (PULL_FAILURE_REASONS as readonly string[]).includes(reason ?? '');
}

/**
 * - `unauthorized`: the registry wants a login it did not get, or refused the one it got (401).
 * - `denied`: the login is known but may not pull this repository (403).
 * - `not-found-or-unauthorized`: Docker Hub (and registries like it) answer the same for a repository that
 *   does not exist and one that is private without the right login.
 * - `not-found`: no such repository, tag or digest (404, manifest unknown).
 * - `rate-limited`: 429 / toomanyrequests.
 * - `tls`: the node does not trust the registry's certificate.
 * - `unreachable`: DNS, connection or timeout: the node cannot reach the registry.
 * - `invalid-reference`: the image reference does not parse.
 * - `unknown`: none of these; the message is shown as it is.
 */
export const CAUSES = [
  'unauthorized',
  'denied',
  'not-found-or-unauthorized',
  'not-found',
  'rate-limited',
  'tls',
  'unreachable',
  'invalid-reference',
  'unknown',
] as const;
export type Cause = (typeof CAUSES)[number];

/** Causes a pull Secret can be the answer to. */
export const CREDENTIAL_CAUSES: ReadonlySet<Cause> = new Set<Cause>(['unauthorized', 'denied', 'not-found-or-unauthorized', 'unknown']);

interface Rule {
  cause: Cause;
  pattern: RegExp;
}

/** First match wins; the ambiguous Docker Hub answer comes before the words it contains. */
const RULES: readonly Rule[] = [
  { cause: 'rate-limited', pattern: /toomanyrequests|\b429\b|too many requests|pull rate limit/i },
  {
    cause: 'not-found-or-unauthorized',
    pattern: /repository does not exist or may require authorization|requested access to the resource is denied|pull access denied for /i,
  },
  { cause: 'tls', pattern: /x509:|tls: |certificate (?:signed by unknown authority|has expired|is not valid)|handshake failure/i },
  {
    cause: 'unreachable',
    pattern:
      /i\/o timeout|no such host|connection refused|connection reset|network is unreachable|no route to host|context deadline exceeded|server misbehaving|registry is unavailable|dial tcp|timeout awaiting|temporary failure in name resolution/i,
  },
  { cause: 'unauthorized', pattern: /\b401\b|unauthorized|no basic auth credentials|authentication required|invalid username\/password|failed to fetch (?:oauth|anonymous) token/i },
  { cause: 'denied', pattern: /\b403\b|forbidden|\bdenied\b/i },
  { cause: 'not-found', pattern: /\b404\b|manifest unknown|name unknown|not found|no such image|does not exist/i },
  { cause: 'invalid-reference', pattern: /invalid reference format|couldn't parse image reference|failed to apply default image tag/i },
];

/** Messages that name the kubelet's state and nothing of the registry's answer. */
const UNINFORMATIVE = /^(?:Error: (?:ErrImagePull|ImagePullBackOff|InvalidImageName)|Back-off pulling image "[^"]*")\.?$/;

export interface PullEvidence {
  waitingReason: PullFailureReason;
  waitingMessage?: string;
  /** Event messages about this container, newest first. */
  eventMessages: readonly string[];
}

export interface Classification {
  cause: Cause;
  /** The message the cause was read from (verbatim), when one said anything. */
  message?: string;
}

/** Whether a message says something about the registry's answer (not only "Error: ErrImagePull"). */
export function isInformative(message: string): boolean {
  return !UNINFORMATIVE.test(message.trim());
}

export function classifyMessage(message: string): Cause {
  for (const rule of RULES) if (rule.pattern.test(message)) return rule.cause;
  return 'unknown';
}

/**
 * The cause of one container's failed pull. `InvalidImageName` needs no message. Otherwise the newest
 * informative Event (`Failed to pull image …`) is read, then the waiting message (ErrImagePull carries the
 * runtime's error; newer kubelets append it to the back-off message too).
 */
export function classifyPullFailure(evidence: PullEvidence): Classification {
  const candidates = [...evidence.eventMessages, ...(evidence.waitingMessage ? [evidence.waitingMessage] : [])].filter(isInformative);
  if (evidence.waitingReason === 'InvalidImageName') {
    return { cause: 'invalid-reference', ...(candidates[0] !== undefined ? { message: candidates[0] } : {}) };
  }
  // A message that classifies beats one that does not (an Event about something else, say).
  for (const message of candidates) {
    const cause = classifyMessage(message);
    if (cause !== 'unknown') return { cause, message };
  }
  return { cause: 'unknown', ...(candidates[0] !== undefined ? { message: candidates[0] } : {}) };
}

/** Trims a message for display: one line, at most `max` characters, the middle elided. */
export function trimMessage(message: string, max = 400): string {
  const oneLine = message.replace(/\s+/g, ' ').trim();
  if (oneLine.length <= max) return oneLine;
  const half = Math.floor((max - 3) / 2);
  return `${oneLine.slice(0, half)}...${oneLine.slice(oneLine.length - half)}`;
}
