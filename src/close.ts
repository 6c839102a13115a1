/**
 * Closing at shutdown without hanging on it: a graceful close waits for every request in flight, and one
 * that never ends (a registry that accepted the connection and never answers, a request on a pooled HTTP/2
 * connection) would hold the process past the kubelet's grace period. Each closes gracefully for
 * `graceMs`, then is destroyed, which aborts what is left.
 */
export const CLOSE_GRACE_MS = 1_500;

export interface Closable {
  close(): Promise<void>;
  destroy(): Promise<void>;
}

export async function closeWithin(target: Closable, graceMs = CLOSE_GRACE_MS): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const graceful = target.close().then(
    () => 'closed' as const,
    () => 'closed' as const,
  );
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
  const outcome = await Promise.race([graceful, late]);
  clearTimeout(timer);
  if (outcome === 'late') await target.destroy().catch(() => undefined);
}
