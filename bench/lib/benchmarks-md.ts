import type { BenchResults } from './results.js';

/** A report kept with `--save-as NAME` in bench/results/NAME.md. */
export interface KeptRun {
  /** File name in bench/results. */
  file: string;
  /** The report's own first lines: its date and command. */
  date: string;
  command: string;
  /** The figures a reader comes to this run for, when it has any the list should show (failover). */
  highlights?: string;
}

const KEPT_BEGIN = '<!-- kept runs: rewritten by npm run bench -->';
const KEPT_END = '<!-- end of kept runs -->';

/** What a kept report says about itself (the first lines `markdownReport` writes). */
export function describeKeptRun(file: string, report: string): KeptRun {
  const date = /^## Results \(([^)]*)\)/m.exec(report)?.[1] ?? 'date unknown';
  const command = /^Command: `([^`]*)`/m.exec(report)?.[1] ?? 'command unknown';
  const highlights = failoverHighlights(report) ?? peerHighlights(report);
  return { file, date, command, ...(highlights ? { highlights } : {}) };
}

/** The failover figures of a report (bench/scenarios/failover.ts), as one line for the list of kept runs. */
function failoverHighlights(report: string): string | undefined {
  const cell = (label: RegExp): string | undefined => new RegExp(`^\\|[^|]*${label.source}[^|]*\\| ([^|]+?) \\|`, 'm').exec(report)?.[1]?.trim();
  const term = cell(/SIGTERM → follower "became leader"/);
  const kill = cell(/SIGKILL → follower "became leader"/);
  const calls = cell(/token requests per refresh, 2 replicas/);
  if (!term && !kill) return undefined;
  const parts = [
    ...(term ? [`SIGTERM → new leader ${term}`] : []),
    ...(kill ? [`SIGKILL → new leader ${kill}`] : []),
    ...(calls ? [`token requests per refresh with 2 replicas: ${calls}`] : []),
  ];
  return `failover: ${parts.join('; ')}`;
}

/** The peer scenario's first row (bench/scenarios/peer.ts), as one line for the list of kept runs. */
function peerHighlights(report: string): string | undefined {
  const row = /^\| Peer, ECR via moto \(operator \/ external-secrets\)[^|]*\|(.*)\|$/m.exec(report)?.[1];
  const sizes = [...report.matchAll(/^\| \| ((?:\d+ namespaces \| ?)+)/gm)][0]?.[1]?.split('|').map((c) => c.trim()).filter(Boolean);
  if (!row || !sizes) return undefined;
  const cells = row.split('|').map((c) => c.trim());
  return `external-secrets v0.16.2 beside the operator, create → valid ECR pull Secret in every namespace (operator / ESO): ${sizes.map((size, i) => `${size}: ${cells[i] ?? '–'}`).join('; ')}`;
}

function keptRunsSection(runs: readonly KeptRun[]): string {
  const lines = runs.length
    ? runs.map((run) => `- [\`bench/results/${run.file}\`](bench/results/${run.file}): \`${run.command}\`, ${run.date}${run.highlights ? `. ${run.highlights}` : ''}`)
    : ['- none'];
  return `${KEPT_BEGIN}
## Other kept runs

Runs kept with \`--save-as NAME\` (larger or longer than the one quoted below), each as the benchmark wrote
it, with its own command, machine and commit:

${lines.join('\n')}
${KEPT_END}`;
}

/** BENCHMARKS.md with its list of kept runs replaced (a `--save-as` run leaves the rest as it is). */
export function withKeptRuns(benchmarks: string, runs: readonly KeptRun[]): string {
  const begin = benchmarks.indexOf(KEPT_BEGIN);
  const end = benchmarks.indexOf(KEPT_END);
  if (begin < 0 || end < begin) throw new Error('BENCHMARKS.md has no kept-runs list; run npm run bench without --save-as to rewrite it');
  return benchmarks.slice(0, begin) + keptRunsSection(runs) + benchmarks.slice(end + KEPT_END.length);
}

/** BENCHMARKS.md: how the figures are made, the kept runs, then the latest run's report as it is. */
const GOALS_BEGIN = '<!-- footprint and scale: written by hand from kept runs, carried over by npm run bench -->';
const GOALS_END = '<!-- end of footprint and scale -->';

/** The hand-written block between the goals markers of an existing BENCHMARKS.md, markers included. */
export function goalsBlock(benchmarks: string): string | undefined {
  const begin = benchmarks.indexOf(GOALS_BEGIN);
  const end = benchmarks.indexOf(GOALS_END);
  return begin < 0 || end < begin ? undefined : benchmarks.slice(begin, end + GOALS_END.length);
}

export function benchmarksMarkdown(results: BenchResults, latest: string, kept: readonly KeptRun[] = [], goals?: string): string {
  const m = results.machine;
  return `# Benchmarks

Measured by \`npm run bench\` (code in \`bench/\`), never assumed. This file is rewritten by every run; the
figures below come from:

- **Command:** \`${results.command}\`
- **Machine:** ${m.nproc} CPUs (\`nproc\`), ${m.memTotalGiB} GiB memory, CPU \`${m.cpuModel}\` (from /proc/cpuinfo), Linux ${m.kernel}
- **Software:** Node ${m.node}, kubectl ${m.kubectl}, local control plane: ${m.kubernetes}
- **Operator built from:** ${results.source ? `commit ${results.source.commit}${results.source.srcDirty ? ' with uncommitted changes in src/' : ''}` : 'unknown (no git)'}
- **When:** ${results.startedAt} (${results.durationS ?? '?'} s)

Everything ran on this one machine: the control plane, the operator, the benchmark's own clients and the
kubectl processes shared its CPUs, so the figures include that contention. Only loopback traffic.

## How it measures

One real local control plane (kube-apiserver, etcd and the controller manager from \`regcred local\`,
with the API audit log on) serves the whole run. At each size N there are N namespaces labelled
\`regcred-bench/target=true\`, and the benchmark waits until the controller manager has created the
\`default\` ServiceAccount in every one of them before timing anything. The operator is the built CLI
(\`node dist/cli.js run --context regcred-operator …\`), a separate process under its own least-privilege
identity, with default flags unless said otherwise and with the \`NODE_OPTIONS\` (the V8 heap cap) that the
shipped Deployment sets. Writes are counted from the audit log by user name.

1. **Fan-out.** One static \`RegistryCredential\` (source Secret \`regcred-system/bench-source\` with
   username/password) selects the N namespaces by label. Timed from the create request to the watch event
   that completes, in every namespace, a Secret holding the right credential and a \`default\` ServiceAccount
   listing it: one list of each (Secrets by label selector, ServiceAccounts by field selector
   \`metadata.name=default\`) to start from, then a watch of each. (Runs before December 2026 polled both
   lists every 200 ms or as long as a poll took; at 20,000 namespaces that read 40,000 objects every 2 s
   and loaded the API server and the CPUs as much as the operator did.) The operator's CPU time (utime +
   stime from /proc/<pid>/stat) over the same interval is reported beside it.
   The same end state is produced, from the same clean state, by
   - **the CronJob approach**: one bash script, as a CronJob would run it, under its own ServiceAccount
     (\`bench-system/bench-cronjob\`, rights for exactly its calls): \`kubectl get namespaces -l …\`, then per
     namespace, in sequence, \`kubectl create secret docker-registry … --dry-run=client -o yaml | kubectl apply -f -\`
     and \`kubectl patch serviceaccount default -p '{"imagePullSecrets":[…]}'\`. Above
     \`--cronjob-full-max\` namespaces (default 1,000; 50 with \`--quick\`) it is timed over the first
     \`--cronjob-sample\` namespaces (default 250; 50 with \`--quick\`) and extrapolated linearly (the
     script is one kubectl pair per namespace in sequence, so its time is linear in the count), and the
     table says so.
   - **the floor**: a minimal @kubernetes/client-node client, as the operator's identity, doing exactly one
     Secret create and one ServiceAccount merge patch per namespace, 16 at a time (the operator's default
     \`--write-concurrency\`), from a process of its own (\`bench/floor-client.ts\`) as the operator is one.
     Its time is taken as the operator's: from its first write (loaded and connected, as the operator is
     synced) until the benchmark's watches (the same two, started the same way) have shown the whole end
     state, so that both runs carry the watches' load on the API server. When its last write returned is
     reported beside it. The floor then runs once more with no watches running, timed by its last write, as
     runs before this one timed it (inside the benchmark process); the ratio against that is given too.

   Below 1,000 namespaces a fan-out takes under a second, and one run's time moved by a third from the
   next (100 namespaces: the operator over the floor at 0.8×, 1.2× and 1.3× in three runs). At such sizes
   the floor, the unwatched floor and the operator each run three times from the same clean state (the
   operator's credential deleted and cleaned up by it between runs), and the medians are compared; the
   details list every run.
2. **Steady state.** With everything converged, a fresh operator runs with \`--resync-seconds 2\` (and
   \`--log-level debug\`, because "periodic resync" is a debug line) until it has logged the wanted number of
   resyncs. Every request its identity made from spawn to stop is read from the audit log; writes must be 0.
   When the refresh scenario ran, the Google credential of scenario 6 is converged too, holding a
   long-lived token, and the local token endpoint counts the provider calls: they must be 0. (The static
   provider reads its source from the informer cache and calls nothing, by construction.)
3. **New namespace latency.** While the operator runs at size N, 50 labelled namespaces are created one by
   one at 5 per second. Per namespace: from the create request to the moment the benchmark's **watches**
   (Secrets by label selector; default ServiceAccounts by field selector) have shown both the Secret and the
   ServiceAccount's entry. The controller manager creates the ServiceAccount itself, so that part is shown
   separately. (The local control plane's controller manager runs with \`--kube-api-qps 100\`, not the
   default 20, so that setting up thousands of namespaces does not take minutes; at 5 per second neither
   limit is reached.)
4. **Rotation.** The source Secret gets a new password; timed until every target namespace's Secret holds it
   (followed with watches as in 1), ${(results.options.rotations as number | undefined) ?? 1} times one after the other by the same operator (the figure is
   their median). A provider refresh is the other kind of rotation: see 6. It runs in an operator of its own,
   with a second credential over every namespace, so it is not part of the long-running process's workload
   below (it would double the objects that process holds against a fresh one over the same state).
5. **Memory and start-up.** VmRSS and VmHWM from /proc/<pid>/status: of the fan-out operator right after
   it converged, and of a fresh operator over the converged state (median of 5 samples once its first
   reconcile is done; where the long-running process is let settle, 5 more after the fresh one has had
   30 s with nothing to do too, and its own VmHWM, the peak of its first list). Start-up is spawn to the "caches synced" log line. At the largest size, two fresh
   operators (one with \`--quick\`) are compared, without and with ${results.options.unrelatedSecrets as number} unrelated Opaque
   Secrets in 20 namespaces the credential does not target. Heap (V8's \`nodejs_heap_size_used_bytes\` and
   \`nodejs_heap_size_total_bytes\`) is read from the operator's own \`/metrics\`.
6. **Provider refresh.** A second RegistryCredential, \`bench-gcr\` (provider \`gcr\`, a service account key
   in a Secret), targets the same namespaces. The operator's Google client is pointed at the local stand-in
   for Google's token endpoint (\`REGCRED_GOOGLE_TOKEN_URL\`; it verifies the RS256 assertion, audience and
   scope as Google does) which issues tokens living 16 s + 1 s per 50 namespaces (\`--token-lifetime\`),
   so that the operator refreshes every few seconds instead of every half hour. The endpoint counts every
   token request and records every token with its expiry: a counter the operator does not control. Timed:
   the first mint to every namespace (Secrets and ServiceAccount entries); then, over
   \`--refreshes\` refreshes (default 3, 1 with \`--quick\`), token requests per refresh published (must be 1, whatever the number
   of namespaces), for each refresh the time from the endpoint issuing the token to the first list poll
   that shows it (or a newer one) in every namespace, and the longest time any poll saw a Secret holding a
   token past its expiry (0 means never seen; polls as in 1). Then the endpoint switches to hour-long tokens
   for the steady state (2) and the credential is deleted before the memory figures (5).
7. **Failover** (once per run, at the smallest size). Two replicas of the operator run with \`--leader-elect\`
   (distinct \`POD_NAME\`, the default lease duration 15 s, renew deadline 10 s and retry period 2 s, passed
   explicitly) over the converged state. With both running, a Google credential over one namespace counts
   token requests per refresh at the local endpoint (12 s tokens; must be 1: the follower calls nothing).
   Then the leader gets SIGTERM and, right after, a labelled namespace is created: timed from the signal to
   the follower's "became leader" log line and to that namespace's Secret holding the credential (reads every
   50 ms). A third replica joins as follower and the new leader gets SIGKILL, timed the same way. There is
   no baseline to compare with in the same run, so each figure is given as a ratio to the theoretical bound
   from client-go's semantics: SIGTERM, one retry period (the leader releases the Lease, the follower takes
   it at its next look); SIGKILL, the lease duration plus one retry period (the follower waits for the lease
   to expire, then for its next look). These bounds are nominal: the follower looks every retry period plus
   up to 1.2 times it (client-go's jitter), and counts the lease from when it *saw* the last renewal, which
   can be one such look after the kill; so a ratio above 1 can still be within the semantics (worst case
   2.2 retry periods after a release, lease duration + 4.4 retry periods after a kill: 4.4 s and 23.8 s here).
8. **Informer caches** (with 5). Beside each fresh operator, another one over the same state caches every
   object whole, as the API server sends it (\`REGCRED_INFORMER_TRANSFORM=false\`): the baseline for what the
   informer transforms save. Memory per namespace is the fresh RSS difference between consecutive sizes over
   the namespaces added. "After the workload / fresh" divides the long-running process's RSS after the
   fan-out, rotations and new namespaces (settled: after 30 s with nothing to do) and its VmHWM (peak) by the
   fresh process's RSS, settled too where it was let settle: the operator gives back the heap a burst grew
   at its first quiet look (every 10 s), so a fresh sample taken right after the first reconcile fell before
   or after that by chance (162.3 and 191.4 MiB for two fresh operators over the same 20,000 namespaces,
   with the same heap in use). The peak is also given over the fresh process's own peak. Memory per
   namespace uses the settled figures when both sizes have one. With \`--quick\` the settle and the
   whole-object baseline run only at the largest size.
9. **Many credentials** (\`--scenarios multi\`, only on request). \`--multi-credentials\` (10) static
   RegistryCredentials created one after the other, all selecting the same N namespaces: N × 10 managed
   Secrets and 10 entries on every default ServiceAccount. Against a floor client making exactly the same
   writes (one create per Secret, one merge patch per entry, the entries of a namespace in order).
10. **API Priority and Fairness** (\`--scenarios apf\`, only on request). Right after the fan-out, the credential
   is deleted (the operator takes its Secrets and entries back) and created again under a FlowSchema that
   sends the operator's Secret and ServiceAccount writes to a PriorityLevelConfiguration with
   \`nominalConcurrencyShares: 1\`, \`lendablePercent: 0\` and \`limitResponse: Reject\`: the API server
   answers part of the writes 429. Reported: its time against the fan-out without it, the 429s (audit log)
   and the reconciles requeued with backoff (\`regcred_queue_retries_total\`).
11. **Forced watch expiry** (\`--scenarios watch\`, only on request). Two fresh operators over the converged
   state, each with its watches ended by the API server every \`--watch-timeout\` seconds
   (\`REGCRED_WATCH_TIMEOUT_SECONDS\`), one asking for bookmarks (the default) and one not
   (\`REGCRED_WATCH_BOOKMARKS=false\`), while 8 writers change unrelated Secrets as fast as they can, so the
   API server's Secret watch cache fills and drops events older than its window (75 s) past the
   resourceVersion of a quiet watch. The churn stops once the operator without bookmarks has relisted (the
   window has moved), or after \`--watch-churn\` seconds (default 300), then one more watch period.
   Relists, watch requests and bookmarks are read from each operator's \`regcred_informer_*_total\`.
12. **external-secrets beside the operator** (scenario \`peer\`, only with \`--scenarios peer\`). external-secrets
   v0.16.2, built from its Go module (bench/peer/external-secrets), and the operator each publish an ECR pull
   Secret from moto into the N namespaces, one after the other; timed to every namespace holding the token moto
   issued, then two 60 s refresh intervals: GetAuthorizationToken calls counted by moto, writes by the audit
   log, RSS. See that section of a report that ran it.
A figure that did not converge within its (size-scaled) timeout is printed as "did not converge".

## Reading the figures

- The operator is one Node.js process: its CPU time beside a wall time shows how close it was to using a
  whole core. On a small shared machine the floor and the operator compete with the API server for the
  same cores, so their ratio moves by tens of percent from run to run.
- RSS of the long-running process (after fan-out, rotations, new namespaces) includes garbage that V8 has
  not collected yet: V8 grows its heap lazily when nothing limits it. The fresh-process rows show what a
  process holding the same caches needs.
- Writes are counted per identity from the audit log, so "operator writes" never includes the benchmark's
  own requests (the floor client writes as the operator's identity, but at a different time).

${goals ?? `${GOALS_BEGIN}\n${GOALS_END}`}

${keptRunsSection(kept)}

The rest of this file is \`bench/results/latest.md\` from that run, as the benchmark wrote it.

${latest}
`;
}
