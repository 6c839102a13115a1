import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** The repository (or installed package) root: src/local/ and dist/local/ are two levels below it. */
export const PACKAGE_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_DIR = join(PACKAGE_ROOT, 'controlplane');
const BIN_DIR = join(PACKAGE_ROOT, '.regcred', 'bin');
const BINARY_PREFIX = 'regcred-controlplane-';

export interface Progress {
  (message: string): void;
}

/** The binary is named after a hash of its sources, so a change to them (or to go.sum) rebuilds it. */
export function controlPlaneSourceHash(): string {
  const hash = createHash('sha256');
  const files = readdirSync(SOURCE_DIR)
    .filter((f) => f.endsWith('.go') || f === 'go.mod' || f === 'go.sum')
    .sort();
  for (const file of files) {
    hash.update(file).update('\0').update(readFileSync(join(SOURCE_DIR, file))).update('\0');
  }
  return hash.digest('hex').slice(0, 16);
}

export function controlPlaneBinaryPath(): string {
  return join(BIN_DIR, BINARY_PREFIX + controlPlaneSourceHash());
}

/** Builds the control plane unless a binary of the same sources exists; returns its path. */
export function ensureControlPlaneBinary(progress: Progress): string {
  const binary = controlPlaneBinaryPath();
  if (existsSync(binary)) return binary;

  const go = spawnSync('go', ['version'], { encoding: 'utf8' });
  if (go.error || go.status !== 0) {
    throw new Error(
      'Go is required to build the local control plane (controlplane/ in this repository) but `go version` failed' +
        (go.error ? `: ${go.error.message}` : '') +
        '. Install Go 1.25 or newer (Debian: apt-get install golang-go, or a release from the Go website) and run again.',
    );
  }
  progress(`building the local control plane with ${go.stdout.trim()} (kube-apiserver, controller-manager and etcd from Kubernetes' Go modules); the first build takes several minutes, later starts reuse ${binary}`);
  mkdirSync(BIN_DIR, { recursive: true });
  const tmp = `${binary}.tmp-${process.pid}`;
  const started = Date.now();
  // -v prints each package as it compiles: visible progress on a long first build.
  const build = spawnSync('go', ['build', '-v', '-trimpath', '-o', tmp, '.'], {
    cwd: SOURCE_DIR,
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  if (build.error || build.status !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`building the local control plane failed (go build exited ${build.status ?? build.error?.message}); the output above says why`);
  }
  renameSync(tmp, binary);
  for (const old of readdirSync(BIN_DIR)) {
    if (old.startsWith(BINARY_PREFIX) && join(BIN_DIR, old) !== binary) rmSync(join(BIN_DIR, old), { force: true });
  }
  progress(`local control plane built in ${Math.round((Date.now() - started) / 1000)}s`);
  return binary;
}

export interface ControlPlaneOptions {
  dir: string;
  auditLog?: boolean;
  progress: Progress;
}

export interface RunningControlPlane {
  dir: string;
  kubeconfig: string;
  server: string;
  auditLog?: string;
  logFile: string;
  pid: number;
  /** Resolves with the exit code when the process ends for any reason. */
  exited: Promise<number | null>;
  stop(): Promise<void>;
}

interface ReadyLine {
  ready: boolean;
  kubeconfig: string;
  server: string;
  auditLog?: string;
}

/** Starts the control plane process and resolves once its API server answers /readyz. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const binary = ensureControlPlaneBinary(options.progress);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'controlplane.log');
  const log = createWriteStream(logFile, { flags: 'a' });
  const args = ['--dir', dir];
  if (options.auditLog) args.push('--audit-log');
  const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stderr.pipe(log);
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const ready = await waitForReadyLine(child, exited, logFile);
  return {
    dir,
    kubeconfig: ready.kubeconfig,
    server: ready.server,
    auditLog: ready.auditLog,
    logFile,
    pid: child.pid ?? -1,
    exited,
    stop: () => stopProcess(child, exited),
  };
}

function waitForReadyLine(child: ChildProcess, exited: Promise<number | null>, logFile: string): Promise<ReadyLine> {
  return new Promise((resolveReady, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as ReadyLine;
        if (parsed.ready) resolveReady(parsed);
      } catch {
        // not our ready line; the binary prints nothing else on stdout.
      }
    });
    void exited.then((code) => {
      reject(new Error(`the local control plane exited with code ${code} before it was ready:\n${tailOf(logFile, 25)}`));
    });
  });
}

async function stopProcess(child: ChildProcess, exited: Promise<number | null>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(timer);
}

export function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
