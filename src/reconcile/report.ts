/**
 * Report: write the status a reconcile computed (only when it changed) and the Events that mark its
 * transitions. Counts-only changes are coalesced (docs/adr/0007-status-write-coalescing.md).
 */
import type { RegistryCredential, RegistryCredentialStatus } from '../api/types.js';
import type { EventRecorder, EventType } from '../controller/events.js';
import type { KubeWriter } from '../kube/writer.js';
import type { Logger } from '../observability/logger.js';
import { onlyCountsChanged, statusMergePatch, statusTransitions } from '../status/compute.js';
import { statusEqual } from '../status/conditions.js';
import type { CredentialMemory } from './memory.js';

/** How long a status change that only moves counts waits, so a burst of namespace events is written as a few patches. */
export const STATUS_COALESCE_MS = 1_000;

export interface ReportDeps {
  writer: KubeWriter;
  events: EventRecorder;
  /** Docker Hub headroom under this percentage of the limit gets a Warning event. */
  headroomPercent: number;
}

/**
 * Writes `next` if it differs from the cached status. A change of counts alone, within STATUS_COALESCE_MS
 * of our last status write, is held back instead: the returned delay is when the key must run again to
 * write it.
 */
export async function writeStatus(
  deps: ReportDeps,
  credential: RegistryCredential,
  next: RegistryCredentialStatus,
  memory: CredentialMemory,
  nowMs: number,
  log: Logger,
): Promise<number | undefined> {
  const previous = credential.status;
  if (statusEqual(previous ?? {}, next)) return undefined;
  const changed = Object.keys({ ...previous, ...next }).filter(
    (key) => !statusEqual((previous as Record<string, unknown> | undefined)?.[key], (next as Record<string, unknown>)[key]),
  );
  const last = memory.statusWrite;
  // Compared with our last write too: a transition it made must not be taken back in silence by a stale cache.
  if (last && nowMs - last.at < STATUS_COALESCE_MS && onlyCountsChanged(previous, next) && onlyCountsChanged(last.status, next)) {
    const delayMs = last.at + STATUS_COALESCE_MS - nowMs;
    log.debug({ changed, delayMs }, 'status counts changed; written shortly, with any that follow');
    return delayMs;
  }
  log.debug({ changed }, 'status changed');
  await deps.writer.patchCredentialStatus(credential.metadata.name, statusMergePatch(previous, next));
  memory.statusWrite = { at: nowMs, status: next };
  for (const t of statusTransitions(previous, next, { headroomPercent: deps.headroomPercent })) await recordEvent(deps, credential, t.type, t.reason, t.message, log);
  return undefined;
}

export async function recordEvent(deps: ReportDeps, credential: RegistryCredential, type: EventType, reason: string, message: string, log: Logger): Promise<void> {
  await deps.events.record(credential, type, reason, message);
  log[type === 'Warning' ? 'warn' : 'info']({ reason }, message);
}
