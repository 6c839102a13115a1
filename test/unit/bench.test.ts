import { readFileSync } from 'node:fs';
import { describe, expect, it } from '@jest/globals';
import { parseArgs, UsageError } from '../../bench/lib/args.js';
import { benchmarksMarkdown, describeKeptRun, goalsBlock, withKeptRuns } from '../../bench/lib/benchmarks-md.js';
import { deploymentNodeOptions, deploymentRuntimeEnv } from '../../bench/lib/deployment.js';
import { markdownReport, perNamespace, rows } from '../../bench/lib/report.js';
import type { BenchResults, FailoverResult, FreshStart, RefreshResult, SizeResult, WatchExpiryResult, WatchRun, WorkloadRefreshResult } from '../../bench/lib/results.js';
import { percentile } from '../../bench/lib/util.js';
import { medianMs } from '../../bench/scenarios/fanout.js';
import { failoverBoundMs, FAILOVER_TIMING } from '../../bench/scenarios/failover.js';
import { tokenLifetimeFor } from '../../bench/scenarios/refresh.js';

/** The benchmark's own logic: what it claims must follow from what it measured. */

function results(sizes: SizeResult[]): BenchResults {
  return {
    startedAt: '2026-11-22T00:00:00.000Z',
    command: 'npm run bench',
    machine: { nproc: 2, memTotalGiB: 1, cpuModel: 'cpu', kernel: 'k', node: 'v22', kubectl: 'v1', kubernetes: 'v1.35' },
    options: {},
    sizes,
  };
}

function refresh(overrides: Partial<RefreshResult>): RefreshResult {
  return { targets: 100, tokenLifetimeS: 18, refreshesWanted: 3, rollouts: [], timeoutMs: 60_000, ...overrides };
}

function cell(r: BenchResults, metric: string): string | undefined {
  return rows(r).find((row) => row.metric.trim() === metric)?.cells[0];
}

describe('bench command line', () => {
  it.each([
    [[], { sizes: [100, 1000, 5000], cronjobFullMax: 1000, cronjobSample: 250, refreshes: 3, rotations: 3, memoryExtrasAt: 'every', unrelatedRuns: 2 }],
    [['--quick', '--rotations', '1'], { sizes: [100, 1000], rotations: 1 }],
    [['--quick'], { sizes: [100, 1000], cronjobFullMax: 50, cronjobSample: 50, refreshes: 1, memoryExtrasAt: 'largest', unrelatedRuns: 1 }],
    [['--quick', '--cronjob-full-max', '1000', '--refreshes', '3'], { sizes: [100, 1000], cronjobFullMax: 1000, cronjobSample: 50, refreshes: 3 }],
    [['--sizes', '5000,100,100'], { sizes: [100, 5000] }],
    [['--refreshes=5', '--token-lifetime', '30'], { refreshes: 5, tokenLifetimeSeconds: 30 }],
    [['--sizes', '5000', '--save-as', 'sizes-5000'], { sizes: [5000], saveAs: 'sizes-5000' }],
  ])('%j', (argv, expected) => {
    expect(parseArgs(argv)).toMatchObject(expected);
  });

  it('knows the failover scenario, and runs it by default', () => {
    expect([...parseArgs(['--quick', '--scenarios', 'fanout,failover', '--save-as', 'failover']).scenarios]).toEqual(['fanout', 'failover']);
    expect(parseArgs([]).scenarios.has('failover')).toBe(true);
  });

  it.each([
    [['--sizes', '0'], /--sizes "0" must be a whole number/],
    [['--scenarios', 'fanout,bogus'], /unknown scenario "bogus"/],
    [['--refreshes'], /--refreshes needs a value/],
    [['--rotations', '0'], /--rotations "0" must be a whole number from 1 to 20/],
    [['--token-lifetime', '1.5'], /must be a whole number/],
    [['--fast'], /unknown option "--fast"/],
    [['--save-as', 'latest'], /--save-as "latest" must be lower-case letters, digits and dashes/],
    [['--save-as', '../x'], /--save-as "..\/x" must be/],
    [['--save-as'], /--save-as needs a value/],
  ])('%j is refused with a message that says what to fix', (argv, message) => {
    expect(() => parseArgs(argv)).toThrow(UsageError);
    expect(() => parseArgs(argv)).toThrow(message);
  });
});

describe('bench report', () => {
  it('prints "did not converge" for a refresh run that saw no refresh, never a time', () => {
    const r = results([{ size: 100, setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 }, errors: [], refresh: refresh({ error: 'timed out' }) }]);
    expect(cell(r, 'token requests per refresh (must be 1)')).toBe('did not converge');
    expect(cell(r, 'refresh: token issued → every Secret holds it, p50 / max')).toBe('did not converge');
  });

  it('reports token requests per refresh as measured, a double mint included', () => {
    const r = results([
      {
        size: 100,
        setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 },
        errors: [],
        refresh: refresh({ tokenRequests: 4, refreshesPublished: 3, callsPerRefresh: 4 / 3, rollouts: [{ issuedToEverywhereMs: 1200 }], rolloutP50Ms: 1200, rolloutMaxMs: 1200 }),
      },
    ]);
    expect(cell(r, 'token requests per refresh (must be 1)')).toBe('1.33 (4 requests, 3 refreshes)');
    expect(cell(r, 'refresh: token issued → every Secret holds it, p50 / max')).toBe('1.20 s / 1.20 s');
  });

  it('says a fan-out that timed out did not converge', () => {
    const r = results([
      {
        size: 100,
        setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 },
        errors: [],
        fanout: { targets: 100, operator: { timeoutMs: 1000, polls: 3, pollIntervalMs: 200, writes: { total: 0, byKind: {}, errors: {} }, warnings: 0 } },
      },
    ]);
    expect(cell(r, 'Fan-out: operator, apply → every Secret + SA entry')).toBe('did not converge');
  });

  it('says how the floor was timed: as the watches saw it, with its last write beside it, or (older runs) by its last write alone', () => {
    const writes = { total: 200, byKind: {}, errors: {} };
    const sized = (floor: NonNullable<SizeResult['fanout']>['floor']): BenchResults =>
      results([
        {
          size: 100,
          setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 },
          errors: [],
          fanout: { targets: 100, floor, operator: { ms: 800, timeoutMs: 1000, polls: 0, pollIntervalMs: 200, writes, warnings: 0 }, operatorOverFloor: 800 / 760 },
        },
      ]);
    const observed = sized({ ms: 760, writesMs: 740, events: 200, observed: true, timeoutMs: 1000, writes, concurrency: 16 });
    observed.sizes[0]!.fanout!.floorUnwatched = { ms: 640, writesMs: 640, observed: false, timeoutMs: 1000, writes, concurrency: 16 };
    observed.sizes[0]!.fanout!.operatorOverFloorUnwatched = 800 / 640;
    expect(cell(observed, 'Fan-out: floor client (16 concurrent writes)')).toBe('0.76 s');
    expect(cell(observed, 'of which its last write returned')).toBe('0.74 s');
    expect(cell(observed, 'the same without the watches (its last write)')).toBe('0.64 s');
    expect(cell(observed, 'Ratio operator / floor')).toBe('1.1×');
    expect(cell(observed, 'against the floor without the watches')).toBe('1.3×');
    expect(markdownReport(observed)).toContain('until the watches showed the end state (200 watch events; its last write returned at 0.74 s)');
    expect(markdownReport(observed)).toContain('Floor again with no watches running, until its last write returned: 0.64 s');
    const older = sized({ ms: 700, timeoutMs: 1000, writes, concurrency: 16 });
    expect(cell(older, 'of which its last write returned')).toBeUndefined();
    expect(cell(older, 'against the floor without the watches')).toBeUndefined();
    expect(markdownReport(older)).toContain('until its last write returned (no watches running)');
  });

  it('a small size run several times: the medians are compared, and every run is listed', () => {
    const writes = { total: 200, byKind: {}, errors: {} };
    const r = results([
      {
        size: 100,
        setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 },
        errors: [],
        fanout: {
          targets: 100,
          floor: { ms: 500, samplesMs: [700, 500, 450], events: 200, observed: true, timeoutMs: 1000, writes, concurrency: 16 },
          operator: { ms: 400, samplesMs: [400, 380, 900], timeoutMs: 1000, polls: 0, pollIntervalMs: 200, writes, warnings: 0 },
          operatorOverFloor: 400 / 500,
        },
      },
    ]);
    expect(cell(r, 'Fan-out: floor client (16 concurrent writes)')).toBe('0.50 s (median of 3)');
    expect(cell(r, 'Ratio operator / floor')).toBe('0.8×');
    const report = markdownReport(r);
    expect(report).toContain('runs: 0.40 s, 0.38 s, 0.90 s; writes, CPU and status from the last run');
    expect(report).toContain('runs: 0.70 s, 0.50 s, 0.45 s');
  });

  it('several rotations: the median is the figure, every run is listed, and the writes are the last one\'s', () => {
    const writes = { total: 102, byKind: { 'update secrets': 100, 'patch registrycredentials/status': 2 }, errors: {} };
    const size = (rotation: SizeResult['rotation']): SizeResult => ({ size: 100, setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 }, errors: [], rotation });
    const three = results([size({ ms: 240, samplesMs: [300, 240, 190], timeoutMs: 60_000, targets: 100, writes, cpuS: 0.1, events: 100, detail: '100/100 Secrets hold the new password' })]);
    expect(cell(three, 'Rotation: source changed → every Secret has it')).toBe('0.24 s (median of 3)');
    expect(cell(three, 'operator writes / CPU time during the last rotation')).toBe('102 / 0.1 s');
    expect(markdownReport(three)).toContain('- Rotation: 0.24 s (median of 3) (3 rotations one after the other by the same operator; runs: 0.30 s, 0.24 s, 0.19 s; the last: 100/100 Secrets hold the new password; followed with watches, 100 events)');
    const one = results([size({ ms: 240, timeoutMs: 60_000, targets: 100, writes, cpuS: 0.1, events: 100, detail: '100/100 Secrets hold the new password' })]);
    expect(cell(one, 'operator writes / CPU time during rotation')).toBe('102 / 0.1 s');
    expect(markdownReport(one)).toContain('- Rotation: 0.24 s (100/100 Secrets hold the new password; followed with watches, 100 events)');
  });

  it.each([
    { samples: [700, 500, 450], want: 500 },
    { samples: [3, 1], want: 1 }, // the benchmark's median is nearest-rank (bench/lib/util.ts percentile)
    { samples: [42], want: 42 },
    { samples: [400, undefined, 300], want: undefined },
    { samples: [], want: undefined },
  ])('medianMs($samples) is $want', ({ samples, want }) => {
    expect(medianMs(samples)).toBe(want);
  });
});

describe('bench report: failover', () => {
  const size = (n: number, failover?: FailoverResult): SizeResult => ({ size: n, setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 }, errors: [], failover });
  const measured: FailoverResult = {
    replicas: 2,
    ...FAILOVER_TIMING,
    targets: 100,
    sigterm: { signal: 'SIGTERM', becameLeaderMs: 2500, newNamespaceSecretMs: 3000, boundMs: 2000, becameLeaderOverBound: 1.25, newNamespaceOverBound: 1.5, releasedMs: 120, exitCode: 0, timeoutMs: 34_000 },
    sigkill: { signal: 'SIGKILL', boundMs: 17_000, timeoutMs: 64_000 },
    provider: { tokenLifetimeS: 12, refreshes: 3, tokenRequests: 3, callsPerRefresh: 1 },
  };

  it('takes the bounds from client-go\'s semantics: a retry period after a release, lease duration + retry period after a kill', () => {
    expect(failoverBoundMs('SIGTERM')).toBe(2000);
    expect(failoverBoundMs('SIGKILL')).toBe(17_000);
    expect(failoverBoundMs('SIGKILL', { leaseDurationS: 60, retryPeriodS: 5 })).toBe(65_000);
  });

  it('gives each figure with its ratio to the theoretical bound, the lease settings, and "did not converge" for a takeover not seen', () => {
    const r = results([size(100, measured), size(1000)]);
    const row = (metric: string): string[] | undefined => rows(r).find((x) => x.metric.trim() === metric)?.cells;
    expect(row('Failover (2 replicas, --leader-elect): lease / renew deadline / retry period')).toEqual(['15 s / 10 s / 2 s', '–']);
    expect(row('SIGTERM → follower "became leader" (× theoretical bound: retry period)')).toEqual(['2.50 s (1.3× bound 2.00 s)', '–']);
    expect(row('SIGTERM → Secret in a namespace created after the signal')).toEqual(['3.00 s (1.5× bound 2.00 s)', '–']);
    expect(row('SIGKILL → follower "became leader" (× theoretical bound: lease + retry period)')).toEqual(['did not converge', '–']);
    expect(row('token requests per refresh, 2 replicas (must be 1)')).toEqual(['1 (3 requests, 3 refreshes)', '–']);
    const md = markdownReport(r);
    expect(md).toContain('lease duration 15 s, renew deadline 10 s, retry period 2 s');
    expect(md).toContain('not to a measured baseline');
    expect(md).toContain('"released the lease" after 0.12 s and exited with 0');
  });

  it('leaves the failover rows out of a run without it, and describes the scenario in BENCHMARKS.md', () => {
    expect(rows(results([size(100)])).some((x) => x.metric.startsWith('Failover'))).toBe(false);
    expect(benchmarksMarkdown(results([size(100)]), '## Results (latest)')).toMatch(/\*\*Failover\*\* \(once per run, at the smallest size\)/);
  });
});

describe('bench helpers', () => {
  it.each([
    [100, undefined, 18],
    [1000, undefined, 36],
    [5000, undefined, 116],
    [1000, 60, 60],
  ])('token lifetime at %i namespaces (override %p) is %i s', (size, override, expected) => {
    expect(tokenLifetimeFor(size, override)).toBe(expected);
  });

  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile([], 50)).toBeUndefined();
  });
});

describe('BENCHMARKS.md and kept runs', () => {
  const sizes: SizeResult[] = [{ size: 100, setup: { createNamespacesMs: 1, defaultServiceAccountsMs: 1 }, errors: [] }];
  const kept = describeKeptRun('sizes-5000.md', markdownReport({ ...results(sizes), command: 'npm run bench -- --sizes 5000 --save-as sizes-5000' }));

  it('reads a kept report\'s command and date from what markdownReport wrote', () => {
    expect(kept).toEqual({ file: 'sizes-5000.md', date: '2026-11-22', command: 'npm run bench -- --sizes 5000 --save-as sizes-5000' });
  });

  it('shows a kept failover run\'s figures in the list, read from the report it wrote', () => {
    const report = readFileSync(new URL('../../bench/results/failover.md', import.meta.url), 'utf8');
    const failover = describeKeptRun('failover.md', report);
    expect(failover.highlights).toMatch(/^failover: SIGTERM → new leader \d+\.\d+ s \([^)]*\); SIGKILL → new leader \d+\.\d+ s \([^)]*\); token requests per refresh with 2 replicas: 1 \(/);
    const doc = benchmarksMarkdown(results(sizes), '## Results (latest)', [failover]);
    expect(doc).toContain(`, ${failover.date}. ${failover.highlights}`);
    // A run without failover figures lists no highlights.
    expect(kept.highlights).toBeUndefined();
  });

  it('lists the kept runs before the quoted latest report', () => {
    const doc = benchmarksMarkdown(results(sizes), '## Results (latest)', [kept]);
    const listed = doc.indexOf('[`bench/results/sizes-5000.md`](bench/results/sizes-5000.md): `npm run bench -- --sizes 5000 --save-as sizes-5000`');
    expect(listed).toBeGreaterThan(0);
    expect(listed).toBeLessThan(doc.indexOf('## Results (latest)'));
  });

  it('a --save-as run replaces only the list, and leaves the quoted report as it was', () => {
    const before = benchmarksMarkdown(results(sizes), '## Results (latest)\nfigures', []);
    expect(before).toContain('- none');
    const after = withKeptRuns(before, [kept]);
    expect(after).not.toContain('- none');
    expect(after).toContain('sizes-5000.md');
    expect(after.slice(after.indexOf('The rest of this file is'))).toBe(before.slice(before.indexOf('The rest of this file is')));
    expect(withKeptRuns(after, [kept])).toBe(after);
  });

  it('refuses a BENCHMARKS.md without the list, saying how to rewrite it', () => {
    expect(() => withKeptRuns('# Benchmarks\n\nThe rest of this file is `bench/results/latest.md`\n', [kept])).toThrow(/run npm run bench without --save-as/);
  });
});

describe('the operator the benchmark runs', () => {
  it('gets the NODE_OPTIONS of the shipped Deployment', () => {
    const root = new URL('../..', import.meta.url).pathname;
    expect(deploymentNodeOptions(root)).toMatch(/^--max-old-space-size=\d+ --max-semi-space-size=2 --expose-gc$/);
    expect(deploymentRuntimeEnv(root)).toEqual({ MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '131072' });
  });

  it('says so in the report', () => {
    const r = { ...results([]), operatorNodeOptions: '--max-old-space-size=320' };
    expect(markdownReport(r)).toContain('Every operator process ran with `NODE_OPTIONS=--max-old-space-size=320`');
    expect(markdownReport(r)).not.toContain('--node-arg');
    const withArgs = { ...r, options: { ...r.options, nodeArgs: ['--heap-growing-percent=20'] } };
    expect(markdownReport(withArgs)).toContain('with `--heap-growing-percent=20` on its node command line (--node-arg, not the Deployment\'s)');
  });
});

describe('bench: footprint and scale', () => {
  const fresh = (rssMiB: number): FreshStart => ({ startToCachesSyncedMs: 1000, rssMiB, rssSamplesMiB: [rssMiB] });

  it('memory per namespace is the fresh RSS difference between sizes over the namespaces added, for both caches', () => {
    const r = results([
      { size: 1000, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [], memory: { fresh: fresh(150), freshUntransformed: fresh(152) } },
      { size: 5000, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [], memory: { fresh: fresh(160), freshUntransformed: fresh(180) } },
    ]);
    const slopes = perNamespace(r);
    expect(slopes).toHaveLength(1);
    expect(slopes[0]!.size).toBe(5000);
    expect(slopes[0]!.kib).toBeCloseTo((10 * 1024) / 4000);
    expect(slopes[0]!.wholeKib).toBeCloseTo((28 * 1024) / 4000);
    expect(rows(r).find((row) => row.metric.startsWith('Memory per namespace'))?.cells).toEqual(['–', '2.56 KiB / 7.17 KiB']);
  });

  it('the workload ratio divides the settled and the peak RSS by the fresh one', () => {
    const r = results([{ size: 100, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [], memory: { fresh: fresh(100), rssSettledMiB: 110, peakRssMiB: 125 } }]);
    expect(cell(r, 'After the workload / fresh: settled RSS, peak RSS')).toBe('1.10×, 1.25×');
    // --quick settles only at its largest size: below it, the figure right after the workload, said so.
    const quick = results([{ size: 100, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [], memory: { fresh: fresh(100), rssAfterNewNamespacesMiB: 106, peakRssMiB: 125 } }]);
    expect(cell(quick, 'After the workload / fresh: settled RSS, peak RSS')).toBe('1.06× (not settled), 1.25×');
  });

  it('reports the provider refresh of the workload: issued → everywhere and token requests, or that it failed', () => {
    const workload: WorkloadRefreshResult = { credential: 'bench-gcr-workload', namespaces: 50, tokenLifetimeS: 17, firstMs: 800, refreshAtFractionOfLifetime: 0.52, refreshIssuedToEverywhereMs: 410, tokenRequests: 2 };
    const size = (r: WorkloadRefreshResult): SizeResult => ({
      size: 2000,
      setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 },
      errors: [],
      memory: { fresh: fresh(150), rssAfterRotationMiB: 160, rssAfterNewNamespacesMiB: 161, refresh: r },
    });
    expect(cell(results([size(workload)]), 'its provider refresh: issued → everywhere, token requests')).toBe('0.41 s, 2');
    const report = markdownReport(results([size(workload)]));
    expect(report).toContain('over 50 of the target namespaces');
    expect(report).toContain('refreshed at 0.52 of its lifetime, issued → every Secret 0.41 s; 2 token requests');
    const failed = results([size({ credential: workload.credential, namespaces: 50, tokenLifetimeS: 17, firstMs: 800, tokenRequests: 1, error: 'timed out' })]);
    expect(cell(failed, 'its provider refresh: issued → everywhere, token requests')).toBe('failed, 1');
    expect(markdownReport(failed)).toContain('Error: timed out');
  });

  it('a fresh process let settle is compared settled: ratios, its own peak, and memory per namespace when both sizes settled', () => {
    const settledFresh = (first: number, settled: number, peak: number): FreshStart => ({
      ...fresh(first),
      settled: { rssMiB: settled, rssSamplesMiB: [settled], compacted: true, afterMs: 30_000 },
      peakRssMiB: peak,
    });
    const size = (n: number, f: FreshStart): SizeResult => ({ size: n, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [], memory: { fresh: f, rssSettledMiB: 176, peakRssMiB: 220 } });
    const r = results([size(2000, settledFresh(140, 130, 150)), size(20000, settledFresh(191, 160, 185))]);
    const largest = (metric: string): string | undefined => rows(r).find((row) => row.metric.trim() === metric)?.cells[1];
    expect(largest('After the workload / fresh: settled RSS, peak RSS')).toBe('1.10×, 1.38×');
    expect(largest('peak RSS / the fresh process\'s own peak')).toBe('1.19×');
    expect(largest('settled (30 s idle): RSS')).toBe('160.0 MiB (gave back its heap)');
    expect(perNamespace(r)[0]!.kib).toBeCloseTo((30 * 1024) / 18000);
    // One size not settled (--quick's smaller size): the figures right after the first reconcile at both.
    const mixed = results([size(2000, fresh(140)), size(20000, settledFresh(191, 160, 185))]);
    expect(perNamespace(mixed)[0]!.kib).toBeCloseTo((51 * 1024) / 18000);
  });

  it('the scenarios that add minutes run only when asked for', () => {
    expect([...parseArgs([]).scenarios]).not.toEqual(expect.arrayContaining(['multi']));
    expect([...parseArgs(['--quick']).scenarios].some((s) => ['multi', 'apf', 'watch'].includes(s))).toBe(false);
    expect([...parseArgs(['--scenarios', 'multi,apf,watch']).scenarios]).toEqual(['multi', 'apf', 'watch']);
    expect(parseArgs(['--node-options=--max-semi-space-size=2', '--operator-env', 'MALLOC_ARENA_MAX=2']).operatorEnv).toEqual({ MALLOC_ARENA_MAX: '2' });
    expect(() => parseArgs(['--operator-env', 'NOEQUALS'])).toThrow(UsageError);
    expect(parseArgs(['--node-arg=--heap-growing-percent=20', '--node-arg=--trace-gc']).nodeArgs).toEqual(['--heap-growing-percent=20', '--trace-gc']);
    expect(parseArgs([]).nodeArgs).toEqual([]);
    expect(() => parseArgs(['--node-arg'])).toThrow(UsageError);
  });

  it('BENCHMARKS.md keeps its hand-written footprint block across a rewrite', () => {
    const block = '<!-- footprint and scale: written by hand from kept runs, carried over by npm run bench -->\nfigures\n<!-- end of footprint and scale -->';
    const before = benchmarksMarkdown(results([]), 'latest', [], block);
    expect(goalsBlock(before)).toBe(block);
    const rewritten = benchmarksMarkdown(results([]), 'latest', [], goalsBlock(before));
    expect(rewritten).toContain('\nfigures\n');
  });
});

describe('bench report: API Priority and Fairness', () => {
  it('counts the 429s and signs the time against the fan-out without the FlowSchema', () => {
    const writes = { total: 120, byKind: { 'create secrets': 70, 'patch serviceaccounts': 50 }, errors: { 'create secrets 429': 15, 'patch serviceaccounts 429': 5 } };
    const apf = (ms: number): SizeResult => ({ size: 50, setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 }, errors: [], apf: { namespaces: 50, baselineMs: 1000, ms, timeoutMs: 1, extraMs: ms - 1000, overBaseline: ms / 1000, writes, rejected: 20, reconcileRetries: 0 } });
    expect(cell(results([apf(1500)]), '429 answers / writes, reconcile retries')).toBe('20 / 120, 0');
    expect(cell(results([apf(1500)]), 'extra time against the fan-out without it')).toBe('+0.50 s (1.5×)');
    expect(cell(results([apf(800)]), 'extra time against the fan-out without it')).toBe('−0.20 s (0.8×)');
  });
});

describe('bench report: forced watch expiry', () => {
  const run = (relists: number): WatchRun => ({ lists: 5 + relists, relists, watches: 30, bookmarks: 12, relistsByInformer: relists ? { 'managed secrets': relists } : {}, rssMiB: 100, cpuS: 3 });
  const watch = (w: Partial<WatchExpiryResult>): SizeResult => ({
    size: 50,
    setup: { createNamespacesMs: 0, defaultServiceAccountsMs: 0 },
    errors: [],
    watch: { durationS: 95.4, maxChurnS: 300, watchTimeoutS: 20, churnWrites: 9000, bookmarks: run(0), noBookmarks: run(2), ...w },
  });

  it('says when the window moved and counts relists with bookmarks and without', () => {
    const md = markdownReport(results([watch({ windowMovedAfterS: 92.1 })]));
    expect(cell(results([watch({ windowMovedAfterS: 92.1 })]), 'Forced watch expiry: relists with bookmarks / without')).toBe('0 / 2');
    expect(md).toContain('for 95 s while 9000 writes to unrelated Secrets moved the API server\'s watch window on (churned until the operator without bookmarks first relisted, 92 s in');
    expect(md).toContain('Without (REGCRED_WATCH_BOOKMARKS=false): 2 relists (managed secrets 2)');
  });

  it('says plainly when the churn never moved the window, so the run shows nothing about bookmarks', () => {
    const md = markdownReport(results([watch({ durationS: 300, noBookmarks: run(0) })]));
    expect(md).toContain('the churn stopped at its limit of 300 s without the operator without bookmarks relisting');
    expect(md).toContain('this run shows nothing about bookmarks');
  });
});
