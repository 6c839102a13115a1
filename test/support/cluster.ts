import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { connect, loadKubeConfig, type KubeConnection } from '../../src/kube/connection.js';

export const REPO_ROOT = resolve(import.meta.dirname, '..', '..');
export const OPERATOR_CONTEXT = 'regcred-operator';
export const OPERATOR_NAMESPACE = 'regcred-system';

export function kubeconfigPath(): string {
  const path = process.env.REGCRED_TEST_KUBECONFIG;
  if (!path) throw new Error('REGCRED_TEST_KUBECONFIG is not set: integration tests need the control plane from test/harness/global-setup.ts');
  return path;
}

export function adminConnection(): KubeConnection {
  return connect(loadKubeConfig({ kubeconfig: kubeconfigPath() }));
}

export function operatorConnection(): KubeConnection {
  return connect(loadKubeConfig({ kubeconfig: kubeconfigPath(), context: OPERATOR_CONTEXT }));
}

/** A name no other test uses: tests share one control plane. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(3).toString('hex')}`;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

export function kubectl(args: string[], options: { input?: string; context?: string } = {}): Promise<CommandResult> {
  const full = ['--kubeconfig', kubeconfigPath(), ...(options.context ? ['--context', options.context] : []), ...args];
  return new Promise((done) => {
    const child = execFile('kubectl', full, { cwd: REPO_ROOT, maxBuffer: 32 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      done({ code, stdout, stderr });
    });
    child.stdin?.end(options.input ?? '');
  });
}

export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

export interface LogLine {
  /** The level's name: "debug", "info", "warn", "error", "fatal". */
  level: string;
  msg: string;
  [key: string]: unknown;
}

export interface OperatorProcess {
  child: ChildProcess;
  logs: LogLine[];
  rawOutput: string[];
  waitForLog(predicate: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
  exited: Promise<number | null>;
}

/** Runs the built CLI (`dist/cli.js run`) as a child process under the operator's own RBAC identity. */
export function startOperator(args: string[] = [], env: NodeJS.ProcessEnv = {}): OperatorProcess {
  return spawnOperator(
    [
      resolve(REPO_ROOT, 'dist', 'cli.js'),
      'run',
      '--kubeconfig',
      kubeconfigPath(),
      '--context',
      OPERATOR_CONTEXT,
      '--namespace',
      OPERATOR_NAMESPACE,
      '--health-port',
      '0',
      // Several operators may run at once (tests, the benchmark): each takes a free port and logs it.
      '--metrics-port',
      '0',
      '--log-level',
      'debug',
      ...args,
    ],
    { ...process.env, LOG_FORMAT: 'json', ...env },
  );
}

/**
 * Runs `node ARGV` (an operator's entry point and arguments) as a child process with exactly this
 * environment, collecting its JSON log lines.
 */
export function spawnOperator(argv: string[], env: NodeJS.ProcessEnv, options: { cwd?: string; uid?: number; gid?: number } = {}): OperatorProcess {
  const child = spawn(process.execPath, argv, { env, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  const logs: LogLine[] = [];
  const rawOutput: string[] = [];
  const waiters: { predicate: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  // Every operator's output is kept beside the control plane's log, for reading after a failed run.
  const logFile = process.env.REGCRED_TEST_DIR ? join(process.env.REGCRED_TEST_DIR, `operator-${Date.now()}-${child.pid}.log`) : undefined;
  const onLine = (line: string): void => {
    rawOutput.push(line);
    if (logFile) appendFileSync(logFile, `${line}\n`);
    let parsed: LogLine;
    try {
      parsed = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (w.predicate(parsed)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  };
  createInterface({ input: child.stdout }).on('line', onLine);
  createInterface({ input: child.stderr }).on('line', onLine);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
  return {
    child,
    logs,
    rawOutput,
    exited,
    waitForLog(predicate, timeoutMs = 30_000) {
      const seen = logs.find(predicate);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolveLine, reject) => {
        const timer = setTimeout(() => {
          reject(new Error(`operator did not log the expected line within ${timeoutMs} ms; last lines:\n${rawOutput.slice(-15).join('\n')}`));
        }, timeoutMs);
        waiters.push({
          predicate,
          resolve: (l) => {
            clearTimeout(timer);
            resolveLine(l);
          },
        });
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`operator exited (${code}) before logging the expected line:\n${rawOutput.slice(-15).join('\n')}`));
        });
      });
    },
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}
