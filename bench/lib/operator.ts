import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, readFileSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { OPERATOR_CONTEXT, OPERATOR_NAMESPACE } from './kube.js';
import { parseExposition, valueOf, type Sample } from '../../test/support/prometheus.js';
import { TimeoutError } from './util.js';

export interface LogLine {
  msg?: string;
  /** The level's name: "debug", "info", "warn", "error", "fatal". */
  level?: string;
  [key: string]: unknown;
}

interface Waiter {
  predicate: (line: LogLine) => boolean;
  resolve: (seen: SeenLine) => void;
}

export interface SeenLine {
  line: LogLine;
  /** Date.now() when the benchmark read the line. */
  at: number;
}

export interface OperatorRunOptions {
  /** The built operator to run: a directory holding cli.js. */
  distDir: string;
  kubeconfig: string;
  /** Directory for the operator's raw output (one file per process). */
  logDir: string;
  label: string;
  logLevel?: 'info' | 'debug';
  extraArgs?: string[];
  /** Flags for `node` itself, before the script (V8 flags that NODE_OPTIONS does not accept). */
  nodeArgs?: string[];
  /** Added to the environment, e.g. REGCRED_GOOGLE_TOKEN_URL. */
  env?: NodeJS.ProcessEnv;
}

const MAX_KEPT_LINES = 50_000;
/** The operator writes levels as names (src/observability/logger.ts). */
const WARN_OR_ABOVE: ReadonlySet<string> = new Set(['warn', 'error', 'fatal']);
const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout?.trim()) || 100;

/**
 * The built operator (`dist/cli.js run`) as a child process under its own RBAC
 * identity, as test/support/cluster.ts runs it, with JSON logs read line by line.
 */
export class OperatorProcess {
  readonly child: ChildProcess;
  readonly startedAt: number;
  readonly lines: SeenLine[] = [];
  readonly logFile: string;
  private readonly waiters: Waiter[] = [];
  private readonly out: WriteStream;
  readonly exited: Promise<number | null>;

  constructor(options: OperatorRunOptions) {
    this.logFile = join(options.logDir, `operator-${options.label}.log`);
    this.out = createWriteStream(this.logFile, { flags: 'a' });
    this.startedAt = Date.now();
    this.child = spawn(
      process.execPath,
      [
        ...(options.nodeArgs ?? []),
        join(options.distDir, 'cli.js'),
        'run',
        '--kubeconfig',
        options.kubeconfig,
        '--context',
        OPERATOR_CONTEXT,
        '--namespace',
        OPERATOR_NAMESPACE,
        '--health-port',
        '0',
        '--metrics-port',
        '0',
        '--log-level',
        options.logLevel ?? 'info',
        ...(options.extraArgs ?? []),
      ],
      { env: { ...process.env, ...options.env, LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    createInterface({ input: this.child.stdout! }).on('line', (l) => this.onLine(l));
    createInterface({ input: this.child.stderr! }).on('line', (l) => this.onLine(l));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  private onLine(raw: string): void {
    const at = Date.now();
    this.out.write(`${raw}\n`);
    let line: LogLine;
    try {
      line = JSON.parse(raw) as LogLine;
    } catch {
      line = { msg: raw };
    }
    const seen = { line, at };
    if (this.lines.length < MAX_KEPT_LINES) this.lines.push(seen);
    for (const w of [...this.waiters]) {
      if (w.predicate(line)) {
        this.waiters.splice(this.waiters.indexOf(w), 1);
        w.resolve(seen);
      }
    }
  }

  count(msg: string): number {
    return this.lines.filter((l) => l.line.msg === msg).length;
  }

  /** Lines at warn level or above, for the report. */
  warnings(): LogLine[] {
    return this.lines.filter((l) => WARN_OR_ABOVE.has(l.line.level ?? '')).map((l) => l.line);
  }

  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs: number, what = 'a log line'): Promise<SeenLine> {
    const seen = this.lines.find((l) => predicate(l.line));
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new TimeoutError(`the operator did not log ${what} within ${Math.round(timeoutMs / 1000)} s (log: ${this.logFile})`));
      }, timeoutMs);
      const waiter: Waiter = {
        predicate,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      };
      this.waiters.push(waiter);
      void this.exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`the operator exited (${code}) before it logged ${what} (log: ${this.logFile})`));
      });
    });
  }

  /** From spawn to the "caches synced" line. */
  async cachesSynced(timeoutMs: number): Promise<number> {
    const seen = await this.waitForLog((l) => l.msg === 'caches synced', timeoutMs, '"caches synced"');
    return seen.at - this.startedAt;
  }

  /** VmRSS and VmHWM (peak) from /proc/<pid>/status, in KiB. */
  memory(): { rssKiB: number; hwmKiB: number } {
    const status = readFileSync(`/proc/${this.pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  }

  /** One scrape of the operator's /metrics, on the port it logged at start-up. */
  async metrics(timeoutMs = 10_000): Promise<Sample[]> {
    const seen = await this.waitForLog((l) => l.msg === 'metrics server listening' && typeof l.port === 'number', timeoutMs, '"metrics server listening"');
    const res = await fetch(`http://127.0.0.1:${seen.line.port as number}/metrics`, { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`GET /metrics: HTTP ${res.status}`);
    return parseExposition(await res.text());
  }

  /** V8 heap in use and reserved, in MiB, from the operator's own /metrics; undefined if it cannot be read. */
  async heapMiB(): Promise<{ usedMiB: number; totalMiB: number } | undefined> {
    try {
      const m = await this.metrics();
      const used = valueOf(m, 'nodejs_heap_size_used_bytes');
      const total = valueOf(m, 'nodejs_heap_size_total_bytes');
      return used === undefined || total === undefined ? undefined : { usedMiB: used / 1024 / 1024, totalMiB: total / 1024 / 1024 };
    } catch {
      return undefined;
    }
  }

  /** User + system CPU time the process has used so far, in seconds (/proc/<pid>/stat). */
  cpuSeconds(): number {
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 25_000);
      await this.exited;
      clearTimeout(timer);
    }
    await new Promise<void>((resolve) => this.out.end(() => resolve()));
  }
}
