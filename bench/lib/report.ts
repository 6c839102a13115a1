import { formatSummary, type RequestSummary } from './audit.js';
import type { BenchResults, FailoverTakeover, FreshStart, HeapMiB, PeerResult, PeerToolResult, SizeResult, Timed, WatchExpiryResult, WatchRun } from './results.js';
import { plural } from '../../src/status/plural.js';

const DID_NOT_CONVERGE = 'did not converge';

function seconds(ms: number | undefined): string {
  if (ms === undefined) return DID_NOT_CONVERGE;
  return ms >= 100_000 ? `${(ms / 1000).toFixed(0)} s` : `${(ms / 1000).toFixed(2)} s`;
}

function timed(t: Timed | undefined): string {
  if (!t) return '–';
  return t.samplesMs ? `${seconds(t.ms)} (median of ${t.samplesMs.length})` : seconds(t.ms);
}

/** Each run's time, for a figure that is the median of several (FANOUT_REPEAT_BELOW); else nothing. */
function runs(t: Timed | undefined): string {
  return t?.samplesMs ? `; runs: ${t.samplesMs.map((ms) => (ms === undefined ? 'did not converge' : seconds(ms))).join(', ')}` : '';
}

function ratio(r: number | undefined): string {
  return r === undefined ? '–' : `${r.toFixed(r >= 10 ? 0 : 1)}×`;
}

function ratioOf(a: number | undefined, b: number | undefined, digits = 1): string {
  return a === undefined || b === undefined || b === 0 ? '–' : `${(a / b).toFixed(digits)}×`;
}

/**
 * Memory per namespace: the fresh operator's RSS difference between consecutive sizes over the namespaces
 * added, for the transformed caches and (when measured) for objects cached whole.
 */
export function perNamespace(results: BenchResults): { size: number; kib: number; wholeKib?: number; text: string }[] {
  const out: { size: number; kib: number; wholeKib?: number; text: string }[] = [];
  const sizes = results.sizes.filter((s) => s.memory?.fresh);
  for (let i = 1; i < sizes.length; i++) {
    const a = sizes[i - 1]!;
    const b = sizes[i]!;
    const n = b.size - a.size;
    // Settled at both sizes, or at neither: a settled figure against one that was not would measure the settling.
    const both = a.memory!.fresh!.settled && b.memory!.fresh!.settled;
    const rss = (x: SizeResult): number => (both ? x.memory!.fresh!.settled!.rssMiB : x.memory!.fresh!.rssMiB);
    const kib = ((rss(b) - rss(a)) * 1024) / n;
    const wa = a.memory?.freshUntransformed?.rssMiB;
    const wb = b.memory?.freshUntransformed?.rssMiB;
    const wholeKib = wa === undefined || wb === undefined ? undefined : ((wb - wa) * 1024) / n;
    out.push({ size: b.size, kib, wholeKib, text: `${kib.toFixed(2)} KiB${wholeKib === undefined ? '' : ` / ${wholeKib.toFixed(2)} KiB`}` });
  }
  return out;
}

/** The fresh process's RSS the long-running one is compared with: settled when it was let settle. */
export function freshRss(fresh: FreshStart | undefined): number | undefined {
  return fresh?.settled?.rssMiB ?? fresh?.rssMiB;
}

function mib(v: number | undefined): string {
  return v === undefined ? '–' : `${v.toFixed(1)} MiB`;
}

function heap(h: HeapMiB | undefined): string {
  return h === undefined ? '–' : `${h.usedMiB.toFixed(1)} / ${h.totalMiB.toFixed(1)} MiB`;
}

function ms(v: number | undefined): string {
  return v === undefined ? '–' : `${Math.round(v)} ms`;
}

function cpu(v: number | undefined): string {
  return v === undefined ? '–' : `${v.toFixed(1)} s`;
}

function total(s: RequestSummary | undefined): string {
  return s === undefined ? '–' : String(s.total);
}

/** A takeover figure with its ratio to client-go's theoretical bound (not a measured baseline). */
function againstBound(t: FailoverTakeover | undefined, pick: 'becameLeader' | 'newNamespace'): string {
  if (!t) return '–';
  const value = pick === 'becameLeader' ? t.becameLeaderMs : t.newNamespaceSecretMs;
  const over = pick === 'becameLeader' ? t.becameLeaderOverBound : t.newNamespaceOverBound;
  if (value === undefined) return DID_NOT_CONVERGE;
  return `${seconds(value)} (${ratio(over)} bound ${seconds(t.boundMs)})`;
}

interface Row {
  metric: string;
  cells: string[];
}

/** The figures, one column per size. */
export function rows(results: BenchResults): Row[] {
  const sizes = results.sizes;
  const row = (metric: string, cell: (s: SizeResult) => string): Row => ({ metric, cells: sizes.map(cell) });
  const out: Row[] = [];
  const any = (pick: (s: SizeResult) => unknown): boolean => sizes.some((s) => pick(s) !== undefined);

  out.push(row('Target namespaces (default SA in each)', (s) => String(s.fanout?.targets ?? s.size)));
  if (any((s) => s.fanout)) {
    out.push(row('Fan-out: operator, apply → every Secret + SA entry', (s) => timed(s.fanout?.operator)));
    out.push(row('  of which every Secret in place', (s) => (s.fanout?.operator.secretsMs === undefined ? '–' : seconds(s.fanout.operator.secretsMs))));
  }
  if (any((s) => s.fanout?.floor)) {
    out.push(row('Fan-out: floor client (16 concurrent writes)', (s) => timed(s.fanout?.floor)));
    if (any((s) => s.fanout?.floor?.observed)) {
      out.push(row('  of which its last write returned', (s) => (s.fanout?.floor?.writesMs === undefined ? '–' : seconds(s.fanout.floor.writesMs))));
    }
    if (any((s) => s.fanout?.floorUnwatched)) {
      out.push(row('  the same without the watches (its last write)', (s) => timed(s.fanout?.floorUnwatched)));
    }
    out.push(
      row('Fan-out: CronJob script (sequential kubectl)', (s) => {
        const c = s.fanout?.cronjob;
        if (!c) return '–';
        if (c.ms === undefined) return DID_NOT_CONVERGE;
        return c.extrapolated ? `${seconds(c.ms)} (extrapolated from ${c.measuredNamespaces} ns)` : seconds(c.ms);
      }),
    );
    out.push(row('  CronJob time per namespace', (s) => (s.fanout?.cronjob?.perNamespaceMs === undefined ? '–' : ms(s.fanout.cronjob.perNamespaceMs))));
    out.push(row('Ratio operator / floor', (s) => ratio(s.fanout?.operatorOverFloor)));
    if (any((s) => s.fanout?.floorUnwatched)) {
      out.push(row('  against the floor without the watches', (s) => ratio(s.fanout?.operatorOverFloorUnwatched)));
    }
    out.push(row('Ratio CronJob / operator', (s) => ratio(s.fanout?.cronjobOverOperator)));
  }
  if (any((s) => s.fanout)) {
    out.push(row('API writes during fan-out: operator', (s) => total(s.fanout?.operator.writes)));
    out.push(row('CPU time during fan-out: operator / floor client', (s) => `${cpu(s.fanout?.operator.cpuS)} / ${cpu(s.fanout?.floor?.cpuS)}`));
  }
  if (any((s) => s.fanout?.floor)) {
    out.push(row('API writes during fan-out: floor / CronJob (measured ns)', (s) => `${total(s.fanout?.floor?.writes)} / ${total(s.fanout?.cronjob?.writes)}`));
  }
  if (any((s) => s.rotation)) {
    out.push(row('Rotation: source changed → every Secret has it', (s) => timed(s.rotation)));
    out.push(row(`  operator writes / CPU time during ${any((s) => s.rotation?.samplesMs) ? 'the last rotation' : 'rotation'}`, (s) => (s.rotation ? `${total(s.rotation.writes)} / ${cpu(s.rotation.cpuS)}` : '–')));
  }
  if (any((s) => s.refresh)) {
    out.push(row('Provider refresh (Google): token lifetime / namespaces', (s) => (s.refresh ? `${s.refresh.tokenLifetimeS} s / ${s.refresh.targets}` : '–')));
    out.push(
      row('  first mint → every namespace (token requests)', (s) =>
        s.refresh ? `${seconds(s.refresh.firstFanOutMs)} (${s.refresh.firstFanOutTokenRequests ?? '–'})` : '–',
      ),
    );
    out.push(
      row('  token requests per refresh (must be 1)', (s) => {
        const r = s.refresh;
        if (!r) return '–';
        if (r.callsPerRefresh === undefined) return r.error ? DID_NOT_CONVERGE : '–';
        return `${Number(r.callsPerRefresh.toFixed(2))} (${plural(r.tokenRequests ?? 0, 'request')}, ${plural(r.refreshesPublished ?? 0, 'refresh', 'refreshes')})`;
      }),
    );
    out.push(
      row('  refresh: token issued → every Secret holds it, p50 / max', (s) =>
        s.refresh ? (s.refresh.rollouts.length ? `${seconds(s.refresh.rolloutP50Ms)} / ${seconds(s.refresh.rolloutMaxMs)}` : DID_NOT_CONVERGE) : '–',
      ),
    );
    out.push(row('  longest a Secret was seen holding an expired token', (s) => (s.refresh ? `${ms(s.refresh.longestExpiredMs)} (polls every ${ms(s.refresh.meanPollPeriodMs)})` : '–')));
    out.push(
      row('  operator writes / CPU time per refresh', (s) => {
        const r = s.refresh;
        if (!r?.writes || !r.refreshesPublished) return '–';
        return `${Math.round(r.writes.total / r.refreshesPublished)} / ${cpu(r.cpuS === undefined ? undefined : r.cpuS / r.refreshesPublished)}`;
      }),
    );
  }
  if (any((s) => s.newns)) {
    out.push(
      row('New namespace → Secret + SA entry p50 / p95 / p99', (s) => {
        const n = s.newns;
        if (!n) return '–';
        if (n.p50 === undefined) return `${DID_NOT_CONVERGE} (${n.converged}/${n.count})`;
        return `${Math.round(n.p50)} / ${Math.round(n.p95!)} / ${Math.round(n.p99!)} ms`;
      }),
    );
    out.push(row('  of which controller manager creates the SA, p50', (s) => ms(s.newns?.serviceAccountCreatedP50)));
    out.push(row('  SA appears → SA carries the entry, p50 / p95', (s) => (s.newns ? `${ms(s.newns.patchAfterServiceAccountP50)} / ${ms(s.newns.patchAfterServiceAccountP95)}` : '–')));
    out.push(row('  Secret present, p50 / p95', (s) => (s.newns ? `${ms(s.newns.secretP50)} / ${ms(s.newns.secretP95)}` : '–')));
  }
  if (any((s) => s.steady)) {
    out.push(row('Steady state: periodic resyncs observed (2 s)', (s) => (s.steady ? `${s.steady.resyncsObserved}` : '–')));
    out.push(row('Steady state: operator writes (must be 0)', (s) => total(s.steady?.writes)));
    out.push(
      row('Steady state: provider calls (must be 0)', (s) => {
        if (!s.steady) return '–';
        const g = s.steady.googleTokenRequests;
        return g === undefined ? '0 (static, by construction)' : `${g} (Google, counted at the token endpoint)`;
      }),
    );
  }
  if (any((s) => s.failover)) {
    out.push(
      row('Failover (2 replicas, --leader-elect): lease / renew deadline / retry period', (s) =>
        s.failover ? `${s.failover.leaseDurationS} s / ${s.failover.renewDeadlineS} s / ${s.failover.retryPeriodS} s` : '–',
      ),
    );
    out.push(row('  SIGTERM → follower "became leader" (× theoretical bound: retry period)', (s) => (s.failover ? againstBound(s.failover.sigterm, 'becameLeader') : '–')));
    out.push(row('  SIGTERM → Secret in a namespace created after the signal', (s) => (s.failover ? againstBound(s.failover.sigterm, 'newNamespace') : '–')));
    out.push(row('  SIGKILL → follower "became leader" (× theoretical bound: lease + retry period)', (s) => (s.failover ? againstBound(s.failover.sigkill, 'becameLeader') : '–')));
    out.push(row('  SIGKILL → Secret in a namespace created after the signal', (s) => (s.failover ? againstBound(s.failover.sigkill, 'newNamespace') : '–')));
    out.push(
      row('  token requests per refresh, 2 replicas (must be 1)', (s) => {
        const p = s.failover?.provider;
        if (!p) return '–';
        if (p.callsPerRefresh === undefined) return DID_NOT_CONVERGE;
        return `${Number(p.callsPerRefresh.toFixed(2))} (${plural(p.tokenRequests, 'request')}, ${plural(p.refreshes, 'refresh', 'refreshes')})`;
      }),
    );
  }
  if (any((s) => s.peer)) {
    const both = (s: SizeResult, cell: (t: PeerToolResult) => string): string => {
      const p = s.peer;
      if (!p) return '–';
      return `${peerCell(p.operator, cell)} / ${peerCell(p.eso, cell)}`;
    };
    out.push(
      row('Peer, ECR via moto (operator / external-secrets): create → valid Secret in every ns', (s) =>
        both(s, (t) => (t.fanOut ? seconds(t.fanOut.ms) : '–')),
      ),
    );
    out.push(row('  operator: also every default SA entry (ESO patches no SAs)', (s) => (s.peer?.operator?.fanOut ? seconds(s.peer.operator.fanOut.withServiceAccountsMs) : '–')));
    out.push(row('  GetAuthorizationToken calls during fan-out', (s) => both(s, (t) => (t.fanOut ? String(t.fanOut.providerCalls) : '–'))));
    out.push(
      row('  GetAuthorizationToken calls per refresh interval', (s) =>
        both(s, (t) => (t.refresh ? `${Number(t.refresh.callsPerInterval.toFixed(1))}` : '–')),
      ),
    );
    out.push(
      row('  refreshes done per interval (operator: per credential; ESO: per ExternalSecret)', (s) =>
        both(s, (t) => (t.refresh ? `${Number((t.refresh.refreshes / t.refresh.intervals).toFixed(1))}` : '–')),
      ),
    );
    out.push(row('  API writes during fan-out', (s) => both(s, (t) => total(t.fanOut?.writes))));
    out.push(row('  API writes per refresh interval, converged', (s) => both(s, (t) => (t.refresh ? String(Math.round(t.refresh.writesPerInterval)) : '–'))));
    out.push(row('  RSS after converging', (s) => both(s, (t) => mib(t.fanOut?.rssMiB))));
    out.push(row('  peak RSS (VmHWM)', (s) => both(s, (t) => mib(t.peakRssMiB))));
  }
  if (any((s) => s.memory)) {
    out.push(row('Operator RSS after converging (fan-out process)', (s) => mib(s.memory?.rssAfterConvergeMiB)));
    out.push(row('  V8 heap in use / reserved then (/metrics)', (s) => heap(s.memory?.heapAfterConverge)));
    if (any((s) => s.memory?.rssAfterNewNamespacesMiB ?? s.memory?.rssAfterRotationMiB)) {
      out.push(row('  same process after rotation / new namespaces', (s) => `${mib(s.memory?.rssAfterRotationMiB)} / ${mib(s.memory?.rssAfterNewNamespacesMiB)}`));
      if (any((s) => s.memory?.refresh)) {
        out.push(
          row('  its provider refresh: issued → everywhere, token requests', (s) => {
            const r = s.memory?.refresh;
            return r ? `${r.error ? 'failed' : seconds(r.refreshIssuedToEverywhereMs)}, ${r.tokenRequests}` : '–';
          }),
        );
      }
      out.push(row('  V8 heap in use / reserved after new namespaces', (s) => heap(s.memory?.heapAfterNewNamespaces)));
    }
    out.push(row('  same process, peak RSS (VmHWM)', (s) => mib(s.memory?.peakRssMiB ?? s.memory?.peakRssDuringFanOutMiB)));
    out.push(row('Fresh operator: start → "caches synced"', (s) => ms(s.memory?.fresh?.startToCachesSyncedMs)));
    out.push(row('Fresh operator: RSS over converged state', (s) => mib(s.memory?.fresh?.rssMiB)));
    out.push(row('  V8 heap in use / reserved (/metrics)', (s) => heap(s.memory?.fresh?.heap)));
    if (any((s) => s.memory?.fresh?.settled)) {
      out.push(
        row('  settled (30 s idle): RSS', (s) => {
          const settled = s.memory?.fresh?.settled;
          return settled ? `${mib(settled.rssMiB)}${settled.compacted ? ' (gave back its heap)' : ''}` : '–';
        }),
      );
      out.push(row('  V8 heap in use / reserved, settled', (s) => heap(s.memory?.fresh?.settled?.heap)));
      out.push(row('  its own peak RSS (VmHWM, the first list)', (s) => mib(s.memory?.fresh?.peakRssMiB)));
    }
    if (any((s) => s.memory?.freshUntransformed)) {
      out.push(row('  baseline: objects cached whole (transform off), RSS', (s) => mib(s.memory?.freshUntransformed?.rssMiB)));
      out.push(row('  baseline: V8 heap in use / reserved', (s) => heap(s.memory?.freshUntransformed?.heap)));
      out.push(row('  ratio RSS transformed / whole', (s) => ratioOf(s.memory?.fresh?.rssMiB, s.memory?.freshUntransformed?.rssMiB)));
    }
    if (any((s) => s.memory?.rssSettledMiB)) {
      out.push(row('  same process settled (30 s idle): RSS', (s) => mib(s.memory?.rssSettledMiB)));
      out.push(row('  V8 heap in use / reserved, settled', (s) => heap(s.memory?.heapSettled)));
    }
    out.push(row('After the workload / fresh: settled RSS, peak RSS', (s) => {
      const m = s.memory;
      const settled = m?.rssSettledMiB ?? m?.rssAfterNewNamespacesMiB ?? m?.rssAfterRotationMiB;
      // Without the 30 s settle (--quick, below the largest size) the figure is the RSS right after the workload.
      const unsettled = m?.rssSettledMiB === undefined && settled !== undefined ? ' (not settled)' : '';
      const fresh = freshRss(m?.fresh);
      return fresh === undefined ? '–' : `${ratioOf(settled, fresh, 2)}${unsettled}, ${ratioOf(m?.peakRssMiB ?? m?.peakRssDuringFanOutMiB, fresh, 2)}`;
    }));
    if (any((s) => s.memory?.fresh?.peakRssMiB)) {
      out.push(row('  peak RSS / the fresh process\'s own peak', (s) => ratioOf(s.memory?.peakRssMiB ?? s.memory?.peakRssDuringFanOutMiB, s.memory?.fresh?.peakRssMiB, 2)));
    }
    const slopes = perNamespace(results);
    if (slopes.length) out.push(row('Memory per namespace, from the size before (transformed / whole)', (s) => slopes.find((x) => x.size === s.size)?.text ?? '–'));
  }
  if (any((s) => s.apf)) {
    out.push(row('Fan-out under a FlowSchema that rejects (429)', (s) => (s.apf ? seconds(s.apf.ms) : '–')));
    out.push(row('  429 answers / writes, reconcile retries', (s) => (s.apf ? `${s.apf.rejected ?? '–'} / ${total(s.apf.writes)}, ${s.apf.reconcileRetries ?? '–'}` : '–')));
    out.push(
      row('  extra time against the fan-out without it', (s) =>
        s.apf?.extraMs === undefined ? '–' : `${s.apf.extraMs < 0 ? '−' : '+'}${seconds(Math.abs(s.apf.extraMs))} (${ratio(s.apf.overBaseline)})`,
      ),
    );
  }
  if (any((s) => s.watch)) {
    out.push(row('Forced watch expiry: relists with bookmarks / without', (s) => (s.watch ? `${s.watch.bookmarks?.relists ?? '–'} / ${s.watch.noBookmarks?.relists ?? '–'}` : '–')));
    out.push(row('  watches resumed / bookmarks received (with bookmarks)', (s) => (s.watch?.bookmarks ? `${s.watch.bookmarks.watches} / ${s.watch.bookmarks.bookmarks}` : '–')));
  }
  if (any((s) => s.multi)) {
    out.push(row('Many credentials: credentials × namespaces (managed Secrets)', (s) => (s.multi ? `${s.multi.credentials} × ${s.multi.namespaces} (${s.multi.secrets})` : '–')));
    out.push(row('  operator, first apply → every Secret + every entry', (s) => (s.multi ? seconds(s.multi.operatorMs) : '–')));
    out.push(row('  floor client, the same writes', (s) => (s.multi ? seconds(s.multi.floorMs) : '–')));
    out.push(row('  ratio operator / floor', (s) => ratio(s.multi?.operatorOverFloor)));
    out.push(row('  operator writes / floor writes', (s) => (s.multi ? `${total(s.multi.operatorWrites)} / ${total(s.multi.floorWrites)}` : '–')));
    out.push(row('  operator RSS after converging / peak', (s) => (s.multi ? `${mib(s.multi.rssAfterConvergeMiB)} / ${mib(s.multi.peakRssMiB)}` : '–')));
  }
  return out;
}

export function textTable(results: BenchResults): string {
  const header = ['', ...results.sizes.map((s) => `${s.size} ns`)];
  const body = rows(results).map((r) => [r.metric, ...r.cells]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((line) => (line[i] ?? '').length)));
  const fmtLine = (line: string[]): string => line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ');
  return [fmtLine(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(fmtLine)].join('\n');
}

export function markdownTable(results: BenchResults): string {
  const header = `| | ${results.sizes.map((s) => `${s.size} namespaces`).join(' | ')} |`;
  const rule = `|---|${results.sizes.map(() => '---:').join('|')}|`;
  const body = rows(results).map((r) => `| ${r.metric.replace(/^ {2}/, '&nbsp;&nbsp;')} | ${r.cells.join(' | ')} |`);
  return [header, rule, ...body].join('\n');
}

function unrelatedSection(results: BenchResults): string[] {
  const lines: string[] = [];
  for (const s of results.sizes) {
    const u = s.memory?.unrelated;
    if (!u) continue;
    const runs = (list: FreshStart[], pick: (r: FreshStart) => string): string => list.map(pick).join('; ');
    lines.push(
      `### Memory with unrelated Secrets (${s.size} target namespaces)`,
      '',
      `${u.secrets} Opaque Secrets (1 KiB of data each, ${(u.listBytes / 1024 / 1024).toFixed(1)} MiB as a list call returns them) in ${u.namespaces} namespaces the credential does not target. ${u.without.length} fresh operators over the converged state without them, then ${u.with.length} with them; the namespaces and their ServiceAccounts exist in all runs, only the Secrets differ. Each RSS is the median of 5 VmRSS samples taken once the first reconcile is done (${(3 + s.size / 2000).toFixed(1)} s after "caches synced").`,
      '',
      '| | without | with |',
      '|---|---:|---:|',
      `| start → "caches synced" (per run) | ${runs(u.without, (r) => ms(r.startToCachesSyncedMs))} | ${runs(u.with, (r) => ms(r.startToCachesSyncedMs))} |`,
      `| RSS (per run) | ${runs(u.without, (r) => mib(r.rssMiB))} | ${runs(u.with, (r) => mib(r.rssMiB))} |`,
      `| V8 heap in use / reserved (per run) | ${runs(u.without, (r) => heap(r.heap))} | ${runs(u.with, (r) => heap(r.heap))} |`,
      `| objects in the informer caches | ${formatCached(u.without[0]?.cached)} | ${formatCached(u.with[0]?.cached)} |`,
      '',
      `Mean RSS difference, with minus without: ${u.deltaMiB >= 0 ? '+' : ''}${u.deltaMiB.toFixed(1)} MiB. These samples come right after the first reconcile, and whether the operator had given back the heap its first list grew by then (at its first quiet look, every 10 s) moves one by up to 30 MiB: a reserved heap well above the heap in use is a run sampled before it. What shows whether the Secrets are read is the operator's Secret list/watch requests while they existed (from the audit log): ${u.secretRequests.map((r) => `\`${r}\``).join(', ') || 'none'}.`,
      '',
    );
  }
  return lines;
}

/** A peer figure, or what stopped the tool before it. */
function peerCell(t: PeerToolResult | undefined, cell: (t: PeerToolResult) => string): string {
  if (!t) return 'not run';
  if (t.error && !t.fanOut) return `failed (${t.error.stage})`;
  return cell(t);
}

function peerSection(results: BenchResults): string[] {
  const sizes = results.sizes.filter((s): s is SizeResult & { peer: PeerResult } => s.peer !== undefined);
  if (sizes.length === 0) return [];
  const first = sizes[0]!.peer;
  const build = sizes.map((s) => s.peer.esoBuild).find((b) => b !== undefined && !b.cached) ?? sizes.map((s) => s.peer.esoBuild).find((b) => b !== undefined);
  const lines: string[] = [
    `### external-secrets beside the operator (scenario peer)`,
    '',
    `The same end state from two tools, one after the other, each from a clean state: in every labelled namespace a \`kubernetes.io/dockerconfigjson\` Secret whose \`auths\` entry for \`${first.registry}\` holds the ECR token moto ${first.motoVersion} issues (valid = the document decodes and its username, password and auth are the issued token; moto answers every GetAuthorizationToken for an account with the same token, \`<account>-auth-token\`, so refreshes do not change the bytes). moto counts every GetAuthorizationToken it answers; writes and reads come from the audit log by user name; RSS and peak RSS (VmRSS, VmHWM) from /proc/<pid>/status. Both refresh every ${first.refreshIntervalS} s: external-secrets by its \`refreshInterval\`, the operator by \`refresh.schedule\` (its ECR token would otherwise be refreshed at half its 12 h life). After convergence each runs two refresh intervals with nothing changed; calls and writes in that window are divided by the intervals it spans. The operator refreshes a credential once for all its namespaces; ESO refreshes each ExternalSecret (one per namespace) on its own, calling the generator each time, one reconcile at a time with its default \`--concurrent 1\`: when N reconciles take longer than the interval, fewer than N refreshes fit in one, and each ExternalSecret is refreshed less often than its \`refreshInterval\` asks (the refreshes-per-interval row shows it).`,
    '',
    `- **regcred-operator**: ${sizes[0]!.peer.operator?.config ?? '–'}. It also lists the Secret in each namespace's \`default\` ServiceAccount; its writes include those patches.`,
    `- **external-secrets ${first.esoVersion}**: ${sizes.map((s) => s.peer.eso?.config).find(Boolean) ?? '–'}. **It does not patch ServiceAccounts**: pods must name the Secret in \`imagePullSecrets\` themselves (or another tool must add it).`,
    `- Built from its Go module by bench/peer/external-secrets (our main module importing \`github.com/external-secrets/external-secrets/cmd/controller\`, with the module's \`replace\` of sprig repeated): ${build ? `${build.cached ? `cached binary \`${build.binary}\`` : `built in ${seconds(build.ms)}`} (${build.goVersion ?? 'go version unknown'}; \`${build.command}\`)` : 'not built'}. CRDs: ${first.esoCrds ? `${first.esoCrds.installed} from the module's deploy/crds/bundle.yaml (${first.esoCrds.conversionWebhooksStripped} conversion webhooks stripped${first.esoCrds.typedFields.length ? `; this API server rejected ${first.esoCrds.typedFields.length} of them for fields with \`x-kubernetes-preserve-unknown-fields\` and no type, which got \`type: object\`: ${first.esoCrds.typedFields.join('; ')}` : ''})` : 'not installed'}.`,
    `- ECR endpoint: ${first.esoEndpointOverride}. The operator reads AWS_ENDPOINT_URL_ECR / AWS_ENDPOINT_URL_STS (moto's URL).`,
    `- AWS credentials: the operator reads static keys from a Secret (credentialsSecretRef). ${first.esoAuth}`,
    '',
  ];
  for (const s of sizes) {
    const p = s.peer;
    const o = p.operator;
    const e = p.eso;
    const cell = (t: PeerToolResult | undefined, pick: (t: PeerToolResult) => string): string => peerCell(t, pick);
    lines.push(
      `**${s.size} namespaces**`,
      '',
      '| | regcred-operator | external-secrets |',
      '|---|---:|---:|',
      `| create → valid Secret in every namespace | ${cell(o, (t) => seconds(t.fanOut?.ms))} | ${cell(e, (t) => seconds(t.fanOut?.ms))} |`,
      `| create → also every default ServiceAccount entry | ${cell(o, (t) => seconds(t.fanOut?.withServiceAccountsMs))} | does not patch ServiceAccounts |`,
      `| GetAuthorizationToken calls during fan-out (moto) | ${cell(o, (t) => String(t.fanOut?.providerCalls ?? '–'))} | ${cell(e, (t) => String(t.fanOut?.providerCalls ?? '–'))} |`,
      `| GetAuthorizationToken calls per ${p.refreshIntervalS} s refresh interval | ${cell(o, refreshCalls)} | ${cell(e, refreshCalls)} |`,
      `| refreshes done per ${p.refreshIntervalS} s interval (status writes: the operator's per credential, ESO's per ExternalSecret) | ${cell(o, refreshCount)} | ${cell(e, refreshCount)} |`,
      `| GetAuthorizationToken calls per refresh done | ${cell(o, perRefresh)} | ${cell(e, perRefresh)} |`,
      `| API writes during fan-out | ${cell(o, (t) => total(t.fanOut?.writes))} | ${cell(e, (t) => total(t.fanOut?.writes))} |`,
      `| API reads during fan-out | ${cell(o, (t) => total(t.fanOut?.reads))} | ${cell(e, (t) => total(t.fanOut?.reads))} |`,
      `| API writes per refresh interval, converged | ${cell(o, refreshWrites)} | ${cell(e, refreshWrites)} |`,
      `| fewest namespaces with a valid Secret during the window | ${cell(o, validity)} | ${cell(e, validity)} |`,
      `| RSS after converging / after the window | ${cell(o, (t) => `${mib(t.fanOut?.rssMiB)} / ${mib(t.refresh?.rssMiB)}`)} | ${cell(e, (t) => `${mib(t.fanOut?.rssMiB)} / ${mib(t.refresh?.rssMiB)}`)} |`,
      `| peak RSS (VmHWM) | ${cell(o, (t) => mib(t.peakRssMiB))} | ${cell(e, (t) => mib(t.peakRssMiB))} |`,
      '',
    );
    for (const t of [o, e]) {
      if (!t) continue;
      const parts: string[] = [];
      if (t.fanOut) parts.push(`fan-out writes: ${formatSummary(t.fanOut.writes)}; reads: ${formatSummary(t.fanOut.reads)}; ${t.fanOut.polls} list polls (one every ${ms(t.fanOut.meanPollPeriodMs)})`);
      if (t.refresh) parts.push(`window of ${seconds(t.refresh.windowMs)} (${t.refresh.intervals.toFixed(2)} intervals): ${t.refresh.providerCalls} GetAuthorizationToken, writes: ${formatSummary(t.refresh.writes)}; reads: ${formatSummary(t.refresh.reads)}`);
      if (t.startToWorkersMs !== undefined) parts.push(`start → workers started ${ms(t.startToWorkersMs)}`);
      if (t.proxy) parts.push(`the HTTPS proxy opened ${t.proxy.tunnels} tunnels to the ECR API and forwarded ${t.proxy.requests} requests${t.proxy.refused.length ? `; refused ${t.proxy.refused.join(', ')}` : ''}`);
      if (t.warnings !== undefined) parts.push(`${t.tool.startsWith('regcred') ? 'warnings' : 'error lines'} logged: ${t.warnings}`);
      if (t.error) parts.push(`**failed at ${t.error.stage}**: ${t.error.message}${t.error.command ? ` (command: \`${t.error.command}\`)` : ''}`);
      lines.push(`- ${t.tool} (as \`${t.user}\`): ${parts.join('; ')}.`);
    }
    if (p.error) lines.push(`- **The scenario could not run: ${p.error.stage}**: ${p.error.message}${p.error.command ? ` (command: \`${p.error.command}\`)` : ''}.`);
    lines.push('');
  }
  return lines;
}

function refreshCalls(t: PeerToolResult): string {
  return t.refresh ? `${Number(t.refresh.callsPerInterval.toFixed(1))} (${t.refresh.providerCalls} in ${seconds(t.refresh.windowMs)})` : '–';
}

function refreshCount(t: PeerToolResult): string {
  const r = t.refresh;
  return r ? `${Number((r.refreshes / r.intervals).toFixed(1))} (${r.refreshes} \`${r.refreshWrite}\` in ${seconds(r.windowMs)})` : '–';
}

function perRefresh(t: PeerToolResult): string {
  return t.refresh?.callsPerRefresh === undefined ? '–' : String(Number(t.refresh.callsPerRefresh.toFixed(2)));
}

function refreshWrites(t: PeerToolResult): string {
  return t.refresh ? `${Math.round(t.refresh.writesPerInterval)} (${t.refresh.writes.total} in ${seconds(t.refresh.windowMs)})` : '–';
}

function validity(t: PeerToolResult): string {
  return t.refresh?.minValidSecrets === undefined ? '–' : `${t.refresh.minValidSecrets} (${t.refresh.validitySamples} samples)`;
}

function formatCached(cached: Record<string, number> | undefined): string {
  return cached ? Object.entries(cached).map(([k, v]) => `${k} ${v}`).join(', ') : '–';
}

function details(results: BenchResults): string[] {
  const lines: string[] = ['### Details per size', ''];
  for (const s of results.sizes) {
    lines.push(`**${s.size} namespaces.** Setup: namespaces created in ${seconds(s.setup.createNamespacesMs)}; the controller manager's default ServiceAccounts in all of them after ${seconds(s.setup.defaultServiceAccountsMs)}.`, '');
    const f = s.fanout;
    if (f) {
      const observed = f.operator.events !== undefined ? `followed with watches, ${f.operator.events} events` : `${f.operator.polls} list polls, one every ${ms(f.operator.meanPollPeriodMs)} on average`;
      lines.push(`- Operator fan-out: ${timed(f.operator)} (${observed}; ${f.operator.detail ?? ''}${runs(f.operator)}${f.operator.samplesMs ? '; writes, CPU and status from the last run' : ''}); status afterwards ${JSON.stringify(f.operator.status ?? null)}; warnings logged: ${f.operator.warnings}.`);
      lines.push(`  - operator writes: ${formatSummary(f.operator.writes)}`);
      if (f.floor) {
        const how = f.floor.observed
          ? ` until the watches showed the end state (${f.floor.events ?? 0} watch events; its last write returned at ${f.floor.writesMs === undefined ? '–' : seconds(f.floor.writesMs)})`
          : ' until its last write returned (no watches running)';
        lines.push(`- Floor: ${timed(f.floor)}${how}${f.floor.detail ? ` (${f.floor.detail})` : ''}${runs(f.floor)}; writes: ${formatSummary(f.floor.writes)}`);
      }
      if (f.floorUnwatched) {
        lines.push(
          `- Floor again with no watches running, until its last write returned: ${timed(f.floorUnwatched)}${f.floorUnwatched.detail ? ` (${f.floorUnwatched.detail})` : ''}${runs(f.floorUnwatched)}; writes: ${formatSummary(f.floorUnwatched.writes)}`,
        );
      }
      if (f.cronjob) {
        const c = f.cronjob;
        lines.push(
          `- CronJob script: ${c.extrapolated ? `timed over ${c.measuredNamespaces} namespaces in ${seconds(c.measuredMs)}, extrapolated linearly to ${f.targets}: ${seconds(c.ms)}` : seconds(c.ms)}${c.detail ? ` (${c.detail})` : ''}; writes: ${formatSummary(c.writes)}`,
        );
      }
    }
    if (s.rotation) {
      const observed = s.rotation.events !== undefined ? `followed with watches, ${s.rotation.events} events` : `a list poll every ${ms(s.rotation.meanPollPeriodMs)} on average`;
      const each = s.rotation.samplesMs ? `${s.rotation.samplesMs.length} rotations one after the other by the same operator${runs(s.rotation)}; the last: ` : '';
      lines.push(`- Rotation: ${timed(s.rotation)} (${each}${s.rotation.detail ?? ''}; ${observed}); operator writes: ${formatSummary(s.rotation.writes)}`);
    }
    if (s.refresh) {
      const r = s.refresh;
      const fractions = r.rollouts.map((x) => (x.atFractionOfPreviousLifetime === undefined ? '–' : x.atFractionOfPreviousLifetime.toFixed(2))).join(', ');
      lines.push(
        `- Provider refresh: Google credential \`bench-gcr\` (every namespace labelled for the benchmark at that point, ${r.targets} with those the latency scenario added, and their default ServiceAccounts; beside the static credential), local token endpoint issuing ${r.tokenLifetimeS} s tokens. First mint → every namespace ${seconds(r.firstFanOutMs)} with ${r.firstFanOutTokenRequests ?? '–'} token request(s). Then ${plural(r.refreshesPublished ?? 0, 'refresh', 'refreshes')} published over ${seconds(r.windowMs)} with ${r.tokenRequests ?? '–'} token requests (counted by the endpoint); each minted at ${fractions || '–'} of the previous token's lifetime; issued → every Secret: ${r.rollouts.map((x) => seconds(x.issuedToEverywhereMs)).join(', ') || '–'}; ${r.polls ?? 0} list polls (one every ${ms(r.meanPollPeriodMs)}); longest a Secret was seen holding an expired token: ${ms(r.longestExpiredMs)}; namespace samples without a Secret or with a token the endpoint never issued: ${r.unknownTokenSightings ?? '–'}; operator CPU ${cpu(r.cpuS)}; operator writes: ${r.writes ? formatSummary(r.writes) : '–'}.${r.error ? ` Error: ${r.error}` : ''}`,
      );
    }
    if (s.memory?.refresh) {
      const r = s.memory.refresh;
      lines.push(
        `- Provider refresh in the long-running process's workload (after the rotations, before the new namespaces): Google credential \`${r.credential}\` over ${r.namespaces} of the target namespaces and their default ServiceAccounts, first token ${r.tokenLifetimeS} s long; create → every namespace ${seconds(r.firstMs)}; refreshed at ${r.refreshAtFractionOfLifetime === undefined ? '–' : r.refreshAtFractionOfLifetime.toFixed(2)} of its lifetime, issued → every Secret ${seconds(r.refreshIssuedToEverywhereMs)}; ${r.tokenRequests} token requests in all (counted by the endpoint). The refreshed token lives an hour, so the operators started over this state later find it valid and mint nothing; the credential is removed after the memory scenario's fresh operators.${r.error ? ` Error: ${r.error}` : ''}`,
      );
    }
    if (s.newns) {
      const n = s.newns;
      lines.push(
        `- New namespaces: ${n.count} at ${n.ratePerSecond}/s (achieved ${n.actualRatePerSecond.toFixed(1)}/s), ${n.converged}/${n.count} converged; max ${ms(n.max)}; measured with ${n.method}; operator CPU ${cpu(n.cpuS)}; operator writes: ${formatSummary(n.writes)}`,
      );
    }
    if (s.steady) {
      const st = s.steady;
      lines.push(
        `- Steady state: fresh operator with --resync-seconds ${st.resyncSeconds}, ${st.resyncsObserved} "periodic resync" lines in ${seconds(st.windowMs)} (spawn to stop), operator CPU ${cpu(st.cpuS)} in all; operator writes: ${formatSummary(st.writes)}; operator reads: ${formatSummary(st.reads)}; provider calls: ${st.providerCalls}.${st.error ? ` Error: ${st.error}` : ''}`,
      );
    }
    if (s.failover) {
      const f = s.failover;
      const takeover = (t: FailoverTakeover | undefined): string =>
        t
          ? `${t.signal} to the leader: the follower logged "became leader" after ${seconds(t.becameLeaderMs)}, the namespace created right after the signal held its Secret after ${seconds(t.newNamespaceSecretMs)}${t.releasedMs === undefined ? '' : `; the old leader logged "released the lease" after ${seconds(t.releasedMs)} and exited with ${t.exitCode ?? '?'}`} (theoretical bound ${seconds(t.boundMs)})`
          : `–`;
      const p = f.provider;
      lines.push(
        `- Failover: ${f.replicas} replicas with \`--leader-elect\`, lease duration ${f.leaseDurationS} s, renew deadline ${f.renewDeadlineS} s, retry period ${f.retryPeriodS} s, over the ${f.targets} converged namespaces. ${takeover(f.sigterm)}. ${takeover(f.sigkill)}. ${p ? `Both replicas running, a Google credential over one namespace (${p.tokenLifetimeS} s tokens): ${p.tokenRequests} token requests for ${plural(p.refreshes, 'refresh', 'refreshes')}${p.error ? ` (${p.error})` : ''}.` : ''} The ratios are to client-go's theoretical bounds (SIGTERM: one retry period; SIGKILL: lease duration + one retry period), not to a measured baseline. They are nominal: a follower looks every retry period plus up to 1.2 times it (client-go's jitter), and counts the lease from when it *saw* the last renewal, so the worst case within the same semantics is ${seconds(2.2 * f.retryPeriodS * 1000)} after a release and ${seconds((f.leaseDurationS + 2 * 2.2 * f.retryPeriodS) * 1000)} after a kill.${f.error ? ` Error: ${f.error}` : ''}`,
      );
    }
    if (s.apf) {
      const a = s.apf;
      lines.push(
        `- API Priority and Fairness: a PriorityLevelConfiguration with nominalConcurrencyShares 1, lendablePercent 0 and limitResponse Reject, and a FlowSchema sending the operator's create/patch/update of Secrets and ServiceAccounts to it; the credential deleted (the operator took its Secrets back) and created again: ${seconds(a.ms)} against ${seconds(a.baselineMs)} without it (${a.detail ?? ''}); ${a.rejected ?? '–'} write requests answered 429, each retried after the Retry-After or backoff; ${a.reconcileRetries ?? '–'} reconciles requeued with backoff; operator writes: ${a.writes ? formatSummary(a.writes) : '–'}.${a.error ? ` Error: ${a.error}` : ''}`,
      );
    }
    if (s.watch) {
      const w = s.watch;
      const run = (r: WatchRun | undefined): string =>
        r ? `${r.relists} relists (${Object.entries(r.relistsByInformer).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), ${r.watches} watch requests, ${r.bookmarks} bookmarks, ${mib(r.rssMiB)} RSS` : '–';
      lines.push(
        `- Forced watch expiry: two fresh operators over the converged state, the API server ending every watch after ${w.watchTimeoutS} s (REGCRED_WATCH_TIMEOUT_SECONDS), for ${Math.round(w.durationS)} s while ${w.churnWrites} writes to unrelated Secrets moved the API server's watch window on${watchWindow(w)}. With bookmarks (the default): ${run(w.bookmarks)}. Without (REGCRED_WATCH_BOOKMARKS=false): ${run(w.noBookmarks)}.${w.error ? ` Error: ${w.error}` : ''}`,
      );
    }
    if (s.multi) {
      const m = s.multi;
      lines.push(
        `- Many credentials: ${m.credentials} static RegistryCredentials created one after the other, all selecting the same ${m.namespaces} namespaces: operator ${seconds(m.operatorMs)} (${m.detail ?? ''}), operator CPU ${cpu(m.cpuS)}; floor client (the same ${m.secrets} creates and ${m.secrets} ServiceAccount merge patches, ${m.credentials} in order per namespace, namespaces 8 at a time) ${seconds(m.floorMs)}; operator writes: ${m.operatorWrites ? formatSummary(m.operatorWrites) : '–'}; floor writes: ${m.floorWrites ? formatSummary(m.floorWrites) : '–'}.${m.error ? ` Error: ${m.error}` : ''}`,
      );
    }
    if (s.memory?.freshUntransformed) {
      const f = s.memory.fresh;
      const w = s.memory.freshUntransformed;
      lines.push(`- Fresh operators over the converged state: transformed caches ${mib(f?.rssMiB)} RSS (heap ${heap(f?.heap)}, caches synced ${ms(f?.startToCachesSyncedMs)} after spawn), objects cached whole ${mib(w.rssMiB)} (heap ${heap(w.heap)}, ${ms(w.startToCachesSyncedMs)}); cached objects ${formatCached(f?.cached)}.`);
    }
    if (s.cleanup) lines.push(`- Cleanup before the next size (delete the RegistryCredential, operator removes Secrets and entries): ${timed(s.cleanup)}`);
    for (const e of s.errors) lines.push(`- **Error:** ${e}`);
    lines.push('');
  }
  return lines;
}

export function markdownReport(results: BenchResults): string {
  const m = results.machine;
  return [
    `## Results (${results.startedAt.slice(0, 10)})`,
    '',
    `Command: \`${results.command}\` (${results.durationS ?? '?'} s in all, one local control plane for the whole run)${results.source ? `; operator built from ${results.source.commit}${results.source.srcDirty ? ' (src/ had uncommitted changes)' : ''}` : ''}.`,
    '',
    `Machine: ${m.nproc} CPUs (nproc), ${m.memTotalGiB} GiB memory, ${m.cpuModel}; Linux ${m.kernel}; Node ${m.node}; kubectl ${m.kubectl}; local control plane ${m.kubernetes}: kube-apiserver, etcd and controller manager in one process, audit log on.`,
    '',
    ...(results.operatorNodeOptions
      ? [
          `Every operator process ran with \`NODE_OPTIONS=${results.operatorNodeOptions}\`${results.options.nodeOptions ? ' (--node-options, not the Deployment\'s)' : ', as the Deployment in config/manager/deployment.yaml sets it'}${Object.keys((results.options.operatorEnv as Record<string, string> | undefined) ?? {}).length ? ` and ${Object.entries(results.options.operatorEnv as Record<string, string>).map(([k, v]) => `\`${k}=${v}\``).join(', ')} (the Deployment's, or --operator-env)` : ''}${nodeArgsOf(results).length ? `, with \`${nodeArgsOf(results).join(' ')}\` on its node command line (--node-arg, not the Deployment's)` : ''}.`,
          '',
        ]
      : []),
    markdownTable(results),
    '',
    ...unrelatedSection(results),
    ...peerSection(results),
    ...details(results),
  ].join('\n');
}

/** Whether the churn moved the API server's watch window past a quiet watch, and when. */
function watchWindow(w: WatchExpiryResult): string {
  if (w.maxChurnS === undefined) return '';
  if (w.windowMovedAfterS === undefined) return ` (the churn stopped at its limit of ${w.maxChurnS} s without the operator without bookmarks relisting: the window never moved past its resourceVersion, so this run shows nothing about bookmarks)`;
  return ` (churned until the operator without bookmarks first relisted, ${Math.round(w.windowMovedAfterS)} s in: the window had moved past its resourceVersion)`;
}

/** The --node-arg flags a run gave every operator process (none in runs from before the option existed). */
function nodeArgsOf(results: { options: Record<string, unknown> }): string[] {
  const args = results.options.nodeArgs;
  return Array.isArray(args) ? args.filter((a): a is string => typeof a === 'string') : [];
}
