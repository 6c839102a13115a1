/**
 * metav1.Time serialises as RFC 3339 with whole seconds. Writing the same form the API server returns
 * keeps a round-tripped status equal to the one computed, so an unchanged status is never rewritten.
 */
export function toKubeTime(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('cannot format an invalid Date as a Kubernetes time');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Reads a Kubernetes time (or any date the API returns); undefined when absent or unreadable. */
export function parseKubeTime(value: string | undefined): Date | undefined {
  if (!value) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : new Date(ms);
}
