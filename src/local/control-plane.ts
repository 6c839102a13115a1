import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { closeSync, createWriteStream, existsSync, fstatSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve } from 'node:path';
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

/** Where the output of the last control plane build goes: .regcred/build.log. */
export const BUILD_LOG = join(PACKAGE_ROOT, '.regcred', 'build.log');

/** What the build makes, for the progress lines. */
const WHAT_IS_BUILT = 'the local control plane (kube-apiserver, etcd, controller-manager from Go modules)';

/** Builds the control plane unless a binary of the same sources exists; returns its path. */
export async function ensureControlPlaneBinary(progress: Progress): Promise<string> {
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
  mkdirSync(BIN_DIR, { recursive: true });
  const tmp = `${binary}.tmp-${process.pid}`;
  progress(
    `building ${WHAT_IS_BUILT} with ${go.stdout.trim().replace(/^go version /, '')}: several minutes the first time, ` +
      `then reused from ${displayPath(binary)}; log: ${displayPath(BUILD_LOG)}`,
  );
  let seconds: number;
  try {
    seconds = await goBuild({ sourceDir: SOURCE_DIR, output: tmp, logFile: BUILD_LOG, what: WHAT_IS_BUILT, progress });
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  renameSync(tmp, binary);
  for (const old of readdirSync(BIN_DIR)) {
    if (old.startsWith(BINARY_PREFIX) && join(BIN_DIR, old) !== binary) rmSync(join(BIN_DIR, old), { force: true });
  }
  progress(`local control plane built in ${formatSeconds(seconds)}: ${displayPath(binary)}`);
  return binary;
}

export interface GoBuildOptions {
  sourceDir: string;
  output: string;
  /** Receives everything go build prints (one package per line, with -v); overwritten per build. */
  logFile: string;
  /** What is being built, for the progress lines. */
  what: string;
  progress: Progress;
  /** How often to say the build is still going (15 s). */
  intervalMs?: number;
}

/**
 * Runs `go build -v` with its output in a log file instead of the terminal (a first build of the
 * control plane lists some 2,600 packages), saying every intervalMs how long it has been going.
 * Resolves with the seconds it took; on failure, rejects with the log's path and its last 20 lines.
 */
export function goBuild(options: GoBuildOptions): Promise<number> {
  const { sourceDir, output, logFile, what, progress, intervalMs = 15_000 } = options;
  mkdirSync(dirname(logFile), { recursive: true });
  writeFileSync(logFile, `# go build -v -trimpath -o ${output} . (in ${sourceDir}), ${new Date().toISOString()}\n`);
  const log = createWriteStream(logFile, { flags: 'a' });
  const started = Date.now();
  let packages = 0;
  return new Promise<number>((resolveBuild, rejectBuild) => {
    const build = spawn('go', ['build', '-v', '-trimpath', '-o', output, '.'], { cwd: sourceDir, stdio: ['ignore', 'pipe', 'pipe'] });
    // -v names each package as it is compiled, on stderr; "go: downloading …" lines are modules being fetched.
    createInterface({ input: build.stderr }).on('line', (line) => {
      if (!line.startsWith('go: ') && !line.startsWith('#') && !line.includes(' ')) packages++;
    });
    build.stdout.pipe(log, { end: false });
    build.stderr.pipe(log, { end: false });
    const ticker = setInterval(() => {
      const compiled = packages > 0 ? `, ${packages.toLocaleString('en-US')} package${packages === 1 ? '' : 's'} compiled` : '';
      progress(`building ${what}, ${formatSeconds((Date.now() - started) / 1000)} so far${compiled}; log: ${displayPath(logFile)}`);
    }, intervalMs);
    const finish = (code: number | null, error?: Error): void => {
      clearInterval(ticker);
      const seconds = (Date.now() - started) / 1000;
      log.end(`# ${error ? `go build failed to start: ${error.message}` : `go build exited ${code}`} after ${formatSeconds(seconds)}\n`, () => {
        if (!error && code === 0) {
          resolveBuild(seconds);
          return;
        }
        rejectBuild(
          new Error(
            `building ${what} failed (${error ? error.message : `go build exited ${code}`}); ` +
              `the full log is ${displayPath(logFile)}, its last 20 lines:\n${tailOf(logFile, 20)}`,
          ),
        );
      });
    };
    build.once('error', (err) => finish(null, err));
    build.once('close', (code) => finish(code));
  });
}

/** "45 s", "3 min 05 s". */
export function formatSeconds(seconds: number): string {
  const whole = Math.round(seconds);
  if (whole < 60) return `${whole} s`;
  return `${Math.floor(whole / 60)} min ${String(whole % 60).padStart(2, '0')} s`;
}

/** A path relative to the working directory when it is inside it (".regcred/build.log"), else absolute. */
export function displayPath(path: string): string {
  const rel = relative(process.cwd(), path);
  return rel !== '' && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path;
}

export interface ControlPlaneOptions {
  dir: string;
  /** The API server's port on 127.0.0.1; without it, the one DIR/kubeconfig names when it is free, else any free port. */
  apiPort?: number;
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
  /** Stops the components in order (controller-manager, kube-apiserver, etcd); resolves once the process has exited. */
  stop(): Promise<void>;
}

interface ReadyLine {
  ready: boolean;
  kubeconfig: string;
  server: string;
  auditLog?: string;
}

/** How long stop() waits for the process to exit before it kills it. Its own components stop in about a second. */
const STOP_TIMEOUT_MS = 30_000;

/** Starts the control plane process and resolves once its API server answers /readyz. */
export async function startControlPlane(options: ControlPlaneOptions): Promise<RunningControlPlane> {
  const binary = await ensureControlPlaneBinary(options.progress);
  const dir = resolve(options.dir);
  mkdirSync(dir, { recursive: true });
  const port = await chooseApiPort(dir, options.apiPort);
  const logFile = join(dir, 'controlplane.log');
  // The process writes its log straight to the file, so the log survives this process; and it holds
  // stdin open for the process's lifetime (--stop-on-stdin-eof): if this process dies, even killed,
  // the control plane stops cleanly instead of running on with the port and etcd's data directory.
  const logFd = openSync(logFile, 'a');
  const logStart = fstatSync(logFd).size;
  const args = ['--dir', dir, '--api-port', String(port.port), '--stop-on-stdin-eof'];
  if (options.auditLog) args.push('--audit-log');
  // In a process group of its own, so that a Ctrl-C at the terminal reaches only this process, which
  // stops what depends on the control plane (the operator of `regcred start`) before the control plane.
  const child = spawn(binary, args, { stdio: ['pipe', 'pipe', logFd], detached: true });
  closeSync(logFd); // the child has its own copy
  const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));

  const ready = await waitForReadyLine(child, exited, logFile);
  if (port.recorded !== undefined && port.recorded !== port.port) {
    options.progress(`port ${port.recorded} was taken; the API server is now on ${port.port}: reload ${ready.kubeconfig}`);
  }
  return {
    dir,
    kubeconfig: ready.kubeconfig,
    server: ready.server,
    auditLog: ready.auditLog,
    logFile,
    pid: child.pid ?? -1,
    exited,
    stop: () => stopProcess(child, exited, logFile, logStart, options.progress),
  };
}

export interface ApiPortChoice {
  port: number;
  /** The port DIR/kubeconfig named before this start, if any. */
  recorded?: number;
}

/**
 * The API server's port: the one asked for (which must be free), else the one the state directory's
 * kubeconfig already names if it is free (a kubeconfig loaded before a restart keeps working), else any
 * free port.
 */
export async function chooseApiPort(dir: string, requested?: number): Promise<ApiPortChoice> {
  const recorded = recordedApiPort(dir);
  if (requested !== undefined) {
    if (!(await isPortFree(requested))) {
      throw new Error(`port ${requested} (--api-port) is in use on 127.0.0.1; choose another, or leave --api-port out to take a free one`);
    }
    return { port: requested, recorded };
  }
  if (recorded !== undefined && (await isPortFree(recorded))) return { port: recorded, recorded };
  return { port: await freePort(), recorded };
}

/** The API server port in DIR/kubeconfig, written by the previous start. */
export function recordedApiPort(dir: string): number | undefined {
  let kubeconfig: string;
  try {
    kubeconfig = readFileSync(join(dir, 'kubeconfig'), 'utf8');
  } catch {
    return undefined;
  }
  const match = /^\s*server:\s*https:\/\/127\.0\.0\.1:(\d+)\s*$/m.exec(kubeconfig);
  const port = match ? Number(match[1]) : NaN;
  return Number.isInteger(port) && port > 0 && port <= 65535 ? port : undefined;
}

/** Whether a listener can bind 127.0.0.1:port right now. */
export function isPortFree(port: number): Promise<boolean> {
  return new Promise((done) => {
    const server = createServer();
    server.once('error', () => done(false));
    server.listen({ host: '127.0.0.1', port, exclusive: true }, () => server.close(() => done(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => done(port));
    });
  });
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

async function stopProcess(child: ChildProcess, exited: Promise<number | null>, logFile: string, logStart: number, progress: Progress): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      progress(`the local control plane did not stop within ${STOP_TIMEOUT_MS / 1000} s; killing it (log: ${displayPath(logFile)})`);
      child.kill('SIGKILL');
    }, STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  }
  // A component that did not stop in time is worth telling the person at the terminal, not only the log.
  for (const line of logSince(logFile, logStart).split('\n')) {
    if (line.startsWith('regcred-controlplane: ') && line.includes('did not stop')) progress(line.replace(/^regcred-controlplane: /, 'local control plane: '));
  }
}

function logSince(file: string, offset: number): string {
  try {
    return readFileSync(file).subarray(offset).toString('utf8');
  } catch {
    return '';
  }
}

export function tailOf(file: string, lines: number): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}
