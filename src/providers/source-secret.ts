/**
 * Reading values out of a source Secret, shared by the providers that take one. Kept apart from the
 * providers so that the static provider stays free of the cloud SDKs the ECR module imports.
 */

/** A Secret's data value (base64, as the API returns it) as text; absent stays absent. */
export function decode(value: string | undefined): string | undefined {
  return value === undefined ? undefined : Buffer.from(value, 'base64').toString('utf8');
}

/**
 * The keys a Secret has, for a message saying what it lacks: names only, never values, so that a
 * user spots a misspelt or differently cased key without the message leaking what it holds.
 */
export function keysPresent(data: Record<string, string> | undefined): string {
  return Object.keys(data ?? {}).sort().join(', ') || 'none';
}
