import { closeSync, openSync, readSync, statSync } from 'node:fs';

/** One API request as the control plane's audit log records it (Metadata level, no bodies). */
export interface AuditEvent {
  stage: string;
  verb: string;
  requestURI?: string;
  user: { username: string };
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
}

const WRITE_VERBS = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

export interface RequestSummary {
  total: number;
  /** "verb resource[/subresource]" → count. */
  byKind: Record<string, number>;
  /** "verb resource[/subresource] code" → count, for responses of 400 and above. */
  errors: Record<string, number>;
}

/** A mark in the audit log: requests after it are read by `since`. */
export function auditMark(path: string): number {
  return statSync(path).size;
}

/** Every completed request logged after `mark`. */
export function auditSince(path: string, mark: number): AuditEvent[] {
  const size = statSync(path).size;
  if (size <= mark) return [];
  const fd = openSync(path, 'r');
  try {
    const events: AuditEvent[] = [];
    const chunk = 8 * 1024 * 1024;
    let offset = mark;
    let carry = '';
    while (offset < size) {
      const buffer = Buffer.alloc(Math.min(chunk, size - offset));
      const read = readSync(fd, buffer, 0, buffer.length, offset);
      if (read <= 0) break;
      offset += read;
      const lines = (carry + buffer.subarray(0, read).toString('utf8')).split('\n');
      carry = lines.pop() ?? '';
      for (const line of lines) pushEvent(events, line);
    }
    pushEvent(events, carry);
    return events;
  } finally {
    closeSync(fd);
  }
}

function pushEvent(events: AuditEvent[], line: string): void {
  if (!line.trim()) return;
  try {
    const event = JSON.parse(line) as AuditEvent;
    if (event.stage === 'ResponseComplete') events.push(event);
  } catch {
    // a line cut by the mark, or one being written: not a whole request.
  }
}

export function requestKind(e: AuditEvent): string {
  const resource = e.objectRef?.resource ?? '?';
  return `${e.verb} ${resource}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ''}`;
}

export function isWrite(e: AuditEvent): boolean {
  return WRITE_VERBS.has(e.verb);
}

export function summarize(events: readonly AuditEvent[]): RequestSummary {
  const summary: RequestSummary = { total: 0, byKind: {}, errors: {} };
  for (const e of events) {
    const kind = requestKind(e);
    summary.total++;
    summary.byKind[kind] = (summary.byKind[kind] ?? 0) + 1;
    const code = e.responseStatus?.code ?? 0;
    if (code >= 400) summary.errors[`${kind} ${code}`] = (summary.errors[`${kind} ${code}`] ?? 0) + 1;
  }
  return summary;
}

export function byUser(events: readonly AuditEvent[], username: string): AuditEvent[] {
  return events.filter((e) => e.user.username === username);
}

/** "create secrets 100, patch serviceaccounts 100" (largest first). */
export function formatSummary(summary: RequestSummary): string {
  const parts = Object.entries(summary.byKind)
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([kind, n]) => `${kind} ${n}`);
  const errors = Object.entries(summary.errors).map(([kind, n]) => `${kind}: ${n}`);
  return `${parts.join(', ') || 'none'}${errors.length ? ` (errors: ${errors.join(', ')})` : ''}`;
}
