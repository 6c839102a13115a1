import { auditMark, auditSince, byUser, isWrite, summarize } from '../lib/audit.js';
import { startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import { OPERATOR_USER } from '../lib/kube.js';
import type { SteadyResult } from '../lib/results.js';
import { errorMessage, sleep, waitUntil } from '../lib/util.js';
import type { GoogleSetup } from './refresh.js';

const RESYNC_SECONDS = 2;

/**
 * With everything converged, a fresh operator with a 2 s resync runs until it
 * has logged N "periodic resync" lines (a debug line, hence --log-level
 * debug). Every request its identity makes from spawn to stop is read from
 * the audit log: the writes must be none. When the refresh scenario ran, its Google credential is converged
 * too, holding a long-lived token, and the local token endpoint counts the provider calls: they must be none.
 */
export async function steadyState(ctx: BenchContext, size: number, google?: GoogleSetup): Promise<SteadyResult> {
  const wanted = ctx.options.resyncs;
  const mark = auditMark(ctx.auditLog);
  const tokenRequestsBefore = google?.server.tokenRequests();
  const started = Date.now();
  const operator = startOperator(ctx, `steady-${size}`, 'debug', ['--resync-seconds', String(RESYNC_SECONDS)], google?.env);
  let startToCachesSyncedMs: number | undefined;
  let rssMiB: number | undefined;
  let cpuS: number | undefined;
  let error: string | undefined;
  try {
    startToCachesSyncedMs = await operator.cachesSynced(timeoutFor(60_000, 20, size));
    await waitUntil(
      `${wanted} periodic resyncs`,
      () => Promise.resolve(operator.count('periodic resync') >= wanted ? true : undefined),
      wanted * RESYNC_SECONDS * 1100 + 30_000,
      100,
    );
    // The reconcile the last resync queued runs right after it; give it time to finish (and to write, if it would).
    await sleep(1500);
    rssMiB = operator.memory().rssKiB / 1024;
    cpuS = operator.cpuSeconds();
  } catch (err) {
    error = errorMessage(err);
  } finally {
    await operator.stop();
  }
  const windowMs = Date.now() - started;
  await sleep(1000);
  const events = byUser(auditSince(ctx.auditLog, mark), OPERATOR_USER);
  return {
    resyncSeconds: RESYNC_SECONDS,
    resyncsWanted: wanted,
    resyncsObserved: operator.count('periodic resync'),
    windowMs,
    writes: summarize(events.filter(isWrite)),
    reads: summarize(events.filter((e) => !isWrite(e))),
    providerCalls: `${google ? `Google: ${google.server.tokenRequests() - tokenRequestsBefore!} token requests, counted by the token endpoint; ` : ''}static: 0 by construction (the static provider reads its source Secret from the informer cache and calls nothing)`,
    googleTokenRequests: google ? google.server.tokenRequests() - tokenRequestsBefore! : undefined,
    startToCachesSyncedMs,
    rssMiB,
    cpuS,
    error,
  };
}
