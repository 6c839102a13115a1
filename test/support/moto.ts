/**
 * moto (https://github.com/getmoto/moto) as a local AWS emulator for ECR, STS and IAM: a pinned
 * version in a project-local virtualenv (`.venv/moto-<version>`, created on first use and reused
 * after), run as moto's own server on a free loopback port.
 *
 * One thing is changed in it, on request: moto's GetAuthorizationToken always answers
 * expiresAt = 2015-01-01 (already expired; no real ECR does that), which would make an
 * expiry-aware operator refresh without pause. `ecrTokenExpiresAt` makes it answer that time
 * instead, and every GetAuthorizationToken moto answers is appended to `calls` (account and
 * registryIds, nothing secret), so a test can count provider calls.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from './cluster.js';

export const MOTO_VERSION = '5.2.5';

export interface MotoCall {
  account: string;
  registryIds: string[] | null;
}

export interface MotoServer {
  readonly url: string;
  readonly port: number;
  /** GetAuthorizationToken calls answered so far, over restarts. */
  tokenCalls(): MotoCall[];
  /** Recent output of the server, for failure messages. */
  output(): string;
  isRunning(): boolean;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s). Its state is gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port, with empty state. */
  restart(): Promise<void>;
}

function progress(message: string): void {
  process.stderr.write(`[moto] ${message}\n`);
}

function run(command: string, args: string[], what: string): void {
  const result = spawnSync(command, args, { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10 * 60_000 });
  if (result.error) throw new Error(`${what}: ${result.error.message}`);
  if (result.status !== 0) {
    const tail = `${result.stdout}\n${result.stderr}`.trim().split('\n').slice(-15).join('\n');
    throw new Error(`${what} failed (exit ${result.status}):\n${tail}`);
  }
}

/**
 * The virtualenv's python, with moto[server]==MOTO_VERSION installed. A marker file written after
 * a successful install tells a complete environment from one a killed run left half-made.
 */
export function ensureMoto(version = MOTO_VERSION): string {
  const dir = join(REPO_ROOT, '.venv', `moto-${version}`);
  const python = join(dir, 'bin', 'python');
  const marker = join(dir, '.regcred-installed');
  if (existsSync(marker) && existsSync(python)) return python;

  const probe = spawnSync('python3', ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      'python3 is not installed, and the ECR tests run moto, a Python AWS emulator: install python3 and its venv module ' +
        '(Debian/Ubuntu: apt-get install python3 python3-venv), then run the tests again',
    );
  }
  const started = Date.now();
  progress(`creating ${dir} with ${(probe.stdout || probe.stderr).trim()} (once; later runs reuse it)`);
  rmSync(dir, { recursive: true, force: true });
  try {
    run('python3', ['-m', 'venv', dir], `python3 -m venv ${dir} (Debian/Ubuntu need the python3-venv package)`);
    progress(`installing moto[server]==${version} from PyPI`);
    run(python, ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', `moto[server]==${version}`], `pip install moto[server]==${version}`);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  writeFileSync(marker, `moto[server]==${version}\n`);
  progress(`moto ${version} ready in ${((Date.now() - started) / 1000).toFixed(1)}s`);
  return python;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function answers(url: string): Promise<boolean> {
  try {
    const response = await fetch(`${url}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
    await response.arrayBuffer();
    return response.ok;
  } catch {
    return false;
  }
}

/** Runs moto.server's main, with GetAuthorizationToken wrapped as described at the top of this file. */
const LAUNCHER = `
import json, os, sys
from datetime import datetime
from moto.ecr import responses

original = responses.ECRResponse.get_authorization_token
expires = os.environ.get("REGCRED_MOTO_ECR_EXPIRES_AT")
call_log = os.environ["REGCRED_MOTO_CALL_LOG"]

def get_authorization_token(self):
    result = original(self)
    if expires:
        for entry in result.result["authorizationData"]:
            entry["expiresAt"] = datetime.fromisoformat(expires.replace("Z", "+00:00"))
    with open(call_log, "a") as log:
        log.write(json.dumps({"account": self.current_account, "registryIds": self._get_param("registryIds")}) + "\\n")
    return result

responses.ECRResponse.get_authorization_token = get_authorization_token

from moto.server import main
sys.exit(main())
`;

/** Starts moto on a free loopback port (installing it first if needed) and waits until it answers. */
export async function startMoto(options: { env?: NodeJS.ProcessEnv; timeoutMs?: number; ecrTokenExpiresAt?: Date } = {}): Promise<MotoServer> {
  const python = ensureMoto();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const callLog = join(mkdtempSync(join(tmpdir(), 'regcred-moto-')), 'get-authorization-token.jsonl');
  writeFileSync(callLog, '');
  const lines: string[] = [];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const started = Date.now();
    const proc = spawn(python, ['-c', LAUNCHER, '-H', '127.0.0.1', '-p', String(port)], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        ...options.env,
        REGCRED_MOTO_CALL_LOG: callLog,
        REGCRED_MOTO_ECR_EXPIRES_AT: options.ecrTokenExpiresAt?.toISOString() ?? '',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const keep = (chunk: Buffer): void => {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      if (lines.length > 200) lines.splice(0, lines.length - 200);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    exited = new Promise((resolve) => proc.once('exit', () => resolve()));
    const deadline = started + (options.timeoutMs ?? 30_000);
    for (;;) {
      if (proc.exitCode !== null || proc.signalCode !== null) {
        throw new Error(`moto server exited (${proc.exitCode ?? proc.signalCode}) before answering on ${url}:\n${lines.slice(-15).join('\n')}`);
      }
      if (await answers(url)) break;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        throw new Error(`moto server did not answer on ${url} within ${options.timeoutMs ?? 30_000} ms:\n${lines.slice(-15).join('\n')}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    progress(`moto ${MOTO_VERSION} answering at ${url} (pid ${proc.pid}) after ${Date.now() - started} ms`);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
    progress(`moto at ${url} stopped`);
  };

  await launch();
  return {
    url,
    port,
    output: () => lines.join('\n'),
    tokenCalls: () =>
      readFileSync(callLog, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as MotoCall),
    isRunning: () => child !== undefined && child.exitCode === null && child.signalCode === null,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
  };
}
