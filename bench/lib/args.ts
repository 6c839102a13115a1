/** The benchmark's command line: `npm run bench -- [--quick] [--sizes 100,1000,5000] [--scenarios ...]`. */

export const SCENARIOS = ['fanout', 'steady', 'newns', 'rotation', 'refresh', 'memory', 'failover', 'multi', 'apf', 'watch', 'peer'] as const;
/** Run only when asked for with --scenarios: each adds minutes, and --quick stays under ~6. */
export const OPT_IN_SCENARIOS: ReadonlySet<string> = new Set(['multi', 'apf', 'watch', 'peer']);
export type Scenario = (typeof SCENARIOS)[number];
/**
 * Without --scenarios. "peer" (external-secrets beside the operator) is left out: it adds about 5 minutes per
 * size (two refresh windows of 2 minutes and ESO's fan-out) and, on the first run, an 8-minute Go build.
 */
export const DEFAULT_SCENARIOS: readonly Scenario[] = SCENARIOS.filter((s) => !OPT_IN_SCENARIOS.has(s));

export interface BenchOptions {
  sizes: number[];
  scenarios: Set<Scenario>;
  /** Control plane state directory; emptied at start. */
  dir: string;
  /** The CronJob script is timed over every namespace up to this size, over a sample above it. */
  cronjobFullMax: number;
  cronjobSample: number;
  newNamespaces: number;
  newNamespacesPerSecond: number;
  resyncs: number;
  unrelatedSecrets: number;
  writeConcurrency: number;
  /** Instead of the Deployment's NODE_OPTIONS, to try a setting (the report says which ran). */
  nodeOptions?: string;
  /**
   * V8 flags for every operator process's `node` command line, for those Node refuses in NODE_OPTIONS
   * (e.g. --heap-growing-percent=20), to try a setting (the report says which ran).
   */
  nodeArgs: string[];
  /** Extra environment for every operator process (NAME=VALUE), e.g. MALLOC_ARENA_MAX=2, to try a setting. */
  operatorEnv: Record<string, string>;
  /** Credentials over the same namespaces in scenario "multi". */
  multiCredentials: number;
  /** Scenario "watch": how long unrelated Secrets may churn at most, and how often the API server ends each watch. */
  watchChurnSeconds: number;
  watchTimeoutSeconds: number;
  /** Provider refreshes to watch at each size (scenario "refresh"). */
  refreshes: number;
  /** Source rotations the long-running operator goes through at each size (scenario "rotation"). */
  rotations: number;
  /**
   * Where the memory scenario also lets the worked process settle for 30 s and starts a fresh operator caching
   * objects whole: at every size, or (--quick) only at the largest.
   */
  memoryExtrasAt: 'every' | 'largest';
  /** Fresh operators each way (without, with) in the unrelated-Secrets comparison: 2, or 1 with --quick. */
  unrelatedRuns: number;
  /** Lifetime of the tokens the local Google endpoint issues; default grows with the size (bench/scenarios/refresh.ts). */
  tokenLifetimeSeconds?: number;
  /**
   * Keep this run as bench/results/<saveAs>.{json,md} beside the latest one, instead of replacing
   * latest.{json,md} and the body of BENCHMARKS.md (which lists every kept run).
   */
  saveAs?: string;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick                  sizes 100 and 1,000 namespaces; the CronJob script is timed over a sample of 50
                           namespaces (--cronjob-full-max 50 --cronjob-sample 50), 1 provider refresh
                           (--refreshes 1), the memory settle and whole-object baseline only at 1,000, and
                           one fresh operator each way with and without unrelated Secrets; later options override
  --sizes 100,1000,5000    namespace counts (default 100,1000,5000)
  --scenarios LIST         any of ${SCENARIOS.join(',')} (default: all but
                           ${[...OPT_IN_SCENARIOS].join(', ')}); failover runs once, at the smallest size.
                           multi: N credentials over the same namespaces against the floor client; apf: the
                           fan-out again under a FlowSchema that makes the API server answer part of it 429;
                           watch: forced watch expiry under churn, with and without bookmarks, relists counted;
                           peer: builds external-secrets v0.16.2 from Go (once, cached in .regcred/peers/) and
                           compares it with the operator on ECR tokens from moto
  --multi-credentials N    credentials in scenario multi (default 10)
  --node-options "..."     NODE_OPTIONS for every operator process instead of the Deployment's (to try a setting)
  --operator-env NAME=V    extra environment for every operator process (repeatable; to try a setting)
  --node-arg=--FLAG=V      a flag on every operator process's node command line, for V8 flags Node refuses in
                           NODE_OPTIONS (repeatable; to try a setting), e.g. --node-arg=--heap-growing-percent=20
  --watch-churn S          scenario watch churns until the operator without bookmarks relists, at most S seconds
                           (default 300)
  --watch-timeout S        the API server ends each watch after S seconds in scenario watch (default 20)
  --cronjob-full-max N     time the CronJob script over every namespace up to N namespaces (default 1000);
                           above that, time it over a sample and extrapolate (labelled as such)
  --cronjob-sample N       sample size for the extrapolated CronJob figure (default 250)
  --new-namespaces N       namespaces created one by one for the latency scenario (default 50)
  --new-namespace-rate R   namespaces created per second (default 5)
  --refreshes N            provider refreshes to watch per size in the refresh scenario (default 3)
  --rotations N            source Secret rotations, one after the other, in the rotation scenario (default 3;
                           the figure is their median)
  --token-lifetime S       lifetime of the local Google endpoint's tokens in seconds (default 16 + size/50)
  --resyncs N              periodic resyncs to observe in the steady-state scenario (default 5)
  --unrelated-secrets N    unrelated Opaque Secrets created before the memory comparison (default 2000)
  --dir DIR                control plane state directory (default .regcred/bench; emptied first)
  --save-as NAME           keep the report as bench/results/NAME.{json,md} (lower-case letters, digits, dashes)
                           instead of replacing latest.{json,md}; BENCHMARKS.md keeps quoting the latest run
                           and lists this one under "Other kept runs"`;

export class UsageError extends Error {}

export function parseArgs(argv: readonly string[]): BenchOptions {
  const options: BenchOptions = {
    sizes: [100, 1000, 5000],
    scenarios: new Set(DEFAULT_SCENARIOS),
    multiCredentials: 10,
    operatorEnv: {},
    nodeArgs: [],
    watchChurnSeconds: 300,
    watchTimeoutSeconds: 20,
    dir: '.regcred/bench',
    cronjobFullMax: 1000,
    cronjobSample: 250,
    newNamespaces: 50,
    newNamespacesPerSecond: 5,
    resyncs: 5,
    unrelatedSecrets: 2000,
    // The operator's default --write-concurrency (src/config.ts); the floor client uses the same.
    writeConcurrency: 16,
    refreshes: 3,
    rotations: 3,
    memoryExtrasAt: 'every',
    unrelatedRuns: 2,
  };
  const args = [...argv];
  const value = (flag: string): string => {
    const next = args.shift();
    if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return next;
  };
  const positive = (flag: string, raw: string, max: number): number => {
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new UsageError(`${flag} "${raw}" must be a whole number from 1 to ${max}`);
    return n;
  };
  while (args.length > 0) {
    const arg = args.shift()!;
    const [flag, inline] = arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const take = (): string => inline ?? value(flag);
    switch (flag) {
      case '--quick':
        options.sizes = [100, 1000];
        options.cronjobFullMax = 50;
        options.cronjobSample = 50;
        options.refreshes = 1;
        options.memoryExtrasAt = 'largest';
        options.unrelatedRuns = 1;
        break;
      case '--sizes':
        options.sizes = take()
          .split(',')
          .filter(Boolean)
          .map((s) => positive('--sizes', s.trim(), 20_000));
        break;
      case '--scenarios': {
        const names = take().split(',').map((s) => s.trim()).filter(Boolean);
        for (const name of names) {
          if (!(SCENARIOS as readonly string[]).includes(name)) throw new UsageError(`unknown scenario "${name}"; known: ${SCENARIOS.join(', ')}`);
        }
        options.scenarios = new Set(names as Scenario[]);
        break;
      }
      case '--cronjob-full-max':
        options.cronjobFullMax = positive(flag, take(), 1_000_000);
        break;
      case '--cronjob-sample':
        options.cronjobSample = positive(flag, take(), 100_000);
        break;
      case '--new-namespaces':
        options.newNamespaces = positive(flag, take(), 1000);
        break;
      case '--new-namespace-rate':
        options.newNamespacesPerSecond = positive(flag, take(), 100);
        break;
      case '--node-options':
        options.nodeOptions = take();
        break;
      case '--node-arg':
        options.nodeArgs.push(take());
        break;
      case '--operator-env': {
        const pair = take();
        const eq = pair.indexOf('=');
        if (eq < 1) throw new UsageError(`--operator-env "${pair}" must be NAME=VALUE`);
        options.operatorEnv[pair.slice(0, eq)] = pair.slice(eq + 1);
        break;
      }
      case '--multi-credentials':
        options.multiCredentials = positive(flag, take(), 50);
        break;
      case '--watch-churn':
        options.watchChurnSeconds = positive(flag, take(), 3600);
        break;
      case '--watch-timeout':
        options.watchTimeoutSeconds = positive(flag, take(), 600);
        break;
      case '--refreshes':
        options.refreshes = positive(flag, take(), 100);
        break;
      case '--rotations':
        options.rotations = positive(flag, take(), 20);
        break;
      case '--token-lifetime':
        options.tokenLifetimeSeconds = positive(flag, take(), 86_400);
        break;
      case '--resyncs':
        options.resyncs = positive(flag, take(), 100);
        break;
      case '--unrelated-secrets':
        options.unrelatedSecrets = positive(flag, take(), 50_000);
        break;
      case '--dir':
        options.dir = take();
        break;
      case '--save-as': {
        const name = take();
        if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(name) || name === 'latest') {
          throw new UsageError(`--save-as "${name}" must be lower-case letters, digits and dashes (not "latest"), e.g. sizes-5000`);
        }
        options.saveAs = name;
        break;
      }
      case '--help':
      case '-h':
        throw new UsageError('');
      default:
        throw new UsageError(`unknown option "${arg}"`);
    }
  }
  if (options.sizes.length === 0) throw new UsageError('--sizes needs at least one size');
  if (options.scenarios.size === 0) throw new UsageError('--scenarios needs at least one scenario');
  options.sizes = [...new Set(options.sizes)].sort((a, b) => a - b);
  return options;
}
