import { describe, expect, it } from '@jest/globals';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, startOperator, kubeconfigPath } from '../support/cluster.js';

const CLI = resolve(REPO_ROOT, 'dist', 'cli.js');
const PACKAGE = JSON.parse(readFileSync(resolve(REPO_ROOT, 'package.json'), 'utf8')) as { version: string; engines: { node: string } };

function runCli(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  node: string = process.execPath,
  nodeArgs: string[] = [],
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(node, [...nodeArgs, CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

/**
 * A Node.js older than 22 on this machine: CI's and the development machine's system node is 20
 * (/usr/bin/node), while npm scripts run the 'node' devDependency (22).
 */
function olderNode(): { path: string; version: string } | undefined {
  let candidates: string[] = ['/usr/bin/node', '/usr/local/bin/node', '/bin/node'];
  try {
    candidates = [...execFileSync('which', ['-a', 'node'], { encoding: 'utf8' }).split('\n').filter(Boolean), ...candidates];
  } catch {
    // no `which`: the usual places only
  }
  for (const path of new Set(candidates)) {
    if (!existsSync(path)) continue;
    try {
      const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim().replace(/^v/, '');
      if (Number(version.split('.')[0]) < 22) return { path, version };
    } catch {
      // not a working node
    }
  }
  return undefined;
}

describe('regcred on an older Node.js', () => {
  it('says in one line which Node it needs, which it found and how to get it, and exits 1', async () => {
    const old = olderNode();
    // Without an old node on the machine, this Node pretends to be 20.11.1 (a preload, so nothing in
    // regcred knows about it): the entry's check is what is under test either way.
    const node = old?.path ?? process.execPath;
    const nodeArgs = old ? [] : ['--import', 'data:text/javascript,Object.defineProperty(process,"versions",{value:{...process.versions,node:"20.11.1"}})'];
    const found = old?.version ?? '20.11.1';

    for (const args of [['--help'], ['local'], ['run', '--kubeconfig', '/nonexistent']]) {
      const result = await runCli(args, {}, node, nodeArgs);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      const needed = PACKAGE.engines.node.replace(/^>=/, '').replace(/\.0$/, '');
      expect(result.stderr).toBe(
        `regcred: Node.js ${needed} or newer is needed (this is ${found}): run it through npm (npm start / npx regcred use the Node 22 ` +
          `from the 'node' devDependency, also at node_modules/.bin/node), or install Node 22 (https://nodejs.org)\n`,
      );
    }
  });
});

describe('regcred --version and --help', () => {
  it('prints the package version', async () => {
    for (const flag of ['--version', '-V']) {
      const result = await runCli([flag]);
      expect(result).toEqual({ code: 0, stdout: `${PACKAGE.version}\n`, stderr: '' });
    }
  });

  it("says every flag's default in each command's help", async () => {
    for (const command of ['run', 'local', 'start']) {
      const result = await runCli([command, '--help']);
      expect(result.code).toBe(0);
      const flags = optionItems(result.stdout).filter((item) => !item.startsWith('-h, --help'));
      expect(flags.length).toBeGreaterThan(0);
      for (const item of flags) expect(item).toMatch(/\(default: [^)]+\)/);
    }
    const local = optionItems((await runCli(['local', '--help'])).stdout);
    expect(local).toContainEqual(expect.stringMatching(/^--dir <dir> .*\(default: \.regcred\/local\)$/));
    expect(local).toContainEqual(expect.stringMatching(/^--api-port <port> .*\(default: the port in DIR\/kubeconfig if it is free \(a kubeconfig loaded earlier keeps working\), else any free port\)$/));
  });
});

/** The entries of a help text's Options section, each joined onto one line (commander wraps them at 80 columns). */
function optionItems(help: string): string[] {
  const items: string[] = [];
  for (const line of (help.split('\nOptions:\n')[1] ?? '').split('\n')) {
    if (/^ {2}-/.test(line)) items.push(line.trim().replace(/\s{2,}/g, ' '));
    else if (/^ {3,}\S/.test(line) && items.length > 0) items[items.length - 1] += ` ${line.trim()}`;
    else break;
  }
  return items;
}

describe('regcred run', () => {
  it('loads no cloud SDK until a credential calls its provider', () => {
    // The operator's module graph, as `regcred run` imports it: the AWS and Google SDKs (15–25 MiB each)
    // are imported by src/providers/lazy.ts on a provider's first call, not at start.
    const script = [
      "import { createRequire } from 'node:module';",
      `await import(${JSON.stringify(resolve(REPO_ROOT, 'dist', 'main.js'))});`,
      'const cache = Object.keys(createRequire(import.meta.url).cache);',
      "console.log(JSON.stringify({ aws: cache.filter((p) => p.includes('@aws-sdk')).length, google: cache.filter((p) => p.includes('google-auth-library')).length, k8s: cache.filter((p) => p.includes('@kubernetes')).length }));",
    ].join('\n');
    const result = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8' });
    expect(result.stderr).toBe('');
    const loaded = JSON.parse(result.stdout) as { aws: number; google: number; k8s: number };
    expect(loaded).toEqual({ aws: 0, google: 0, k8s: expect.any(Number) });
    // The check sees CommonJS packages at all: the Kubernetes client is one, and it is loaded.
    expect(loaded.k8s).toBeGreaterThan(0);
  });

  it('connects under its own RBAC identity, syncs its caches, and stops cleanly on SIGTERM', async () => {
    const operator = startOperator();
    const synced = await operator.waitForLog((l) => l.msg === 'caches synced');
    expect(Object.keys(synced.cached as object).sort()).toEqual(
      ['managed-secrets', 'namespaces', 'registrycredentials', 'serviceaccounts', 'source-secrets'],
    );
    const code = await operator.stop('SIGTERM');
    expect(code).toBe(0);
    expect(operator.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('rejects bad flags with a message that says what to fix', async () => {
    const badNamespace = await runCli(['run', '--kubeconfig', kubeconfigPath(), '--namespace', 'Not_A_Namespace']);
    expect(badNamespace.code).toBe(2);
    expect(badNamespace.stderr).toMatch(/--namespace "Not_A_Namespace" is not a valid namespace name/);

    const badConcurrency = await runCli(['run', '--kubeconfig', kubeconfigPath(), '--concurrency', 'lots']);
    expect(badConcurrency.code).toBe(2);
    expect(badConcurrency.stderr).toMatch(/--concurrency "lots" must be a whole number from 1 to 64/);

    const badContext = await runCli(['run', '--kubeconfig', kubeconfigPath(), '--context', 'nope']);
    expect(badContext.code).toBe(2);
    expect(badContext.stdout + badContext.stderr).toMatch(/context \\?"nope\\?" is not in the kubeconfig/);
  });
});

describe('regcred local', () => {
  it('starts a control plane, writes DIR/kubeconfig, prints how to use it, and shuts down on Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regcred-local-cli-'));
    const child = spawn(process.execPath, [CLI, 'local', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(`code ${code} signal ${signal}`)));
    const output: string[] = [];
    await new Promise<void>((ready, failed) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        output.push(line);
        if (line.includes('kubectl get registrycredentials')) ready();
      });
      void exited.then((code) => failed(new Error(`regcred local exited ${code}: ${output.join('\n')}`)));
    });
    expect(output.join('\n')).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
    expect(existsSync(join(dir, 'kubeconfig'))).toBe(true);
    expect(readFileSync(join(dir, 'kubeconfig'), 'utf8')).toMatch(/current-context: regcred-local/);

    // As a person would: a moment after the prompt, Ctrl-C.
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const how = await exited;
    if (how !== 'code 0 signal null') throw new Error(`regcred local ended with ${how}; stderr:\n${stderr}`);
    expect(stderr).toContain('stopping the local control plane (SIGINT)');
  }, 120_000);

  it('comes back on the same port after a restart, so a kubeconfig already loaded keeps working, and stops without waiting out a timeout', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regcred-local-restart-'));
    const first = await startLocal(['--dir', dir]);
    const server = serverIn(dir);
    expect(server).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    // A client watching, as the operator or `kubectl get -w` would be: the API server used to wait for
    // watchers to hang up, and stopping ran into the control plane's 20 s timeout every time.
    const watcher = spawn('kubectl', ['--kubeconfig', join(dir, 'kubeconfig'), 'get', 'namespaces', '--watch', '-o', 'name'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const watcherExited = new Promise((done) => watcher.once('exit', done));
    await new Promise<void>((watching) => watcher.stdout.once('data', () => watching()));
    try {
      await first.stop();
    } finally {
      watcher.kill();
      await watcherExited;
    }

    const second = await startLocal(['--dir', dir]);
    expect(serverIn(dir)).toBe(server);
    expect(second.stderr()).not.toMatch(/was taken/);
    await second.stop();
  }, 180_000);

  it('stops the control plane by itself when regcred local is killed, so the next start gets the port and the data back', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regcred-local-killed-'));
    const first = await startLocal(['--dir', dir]);
    const server = serverIn(dir);
    first.child.kill('SIGKILL');
    const port = Number(new URL(server).port);
    const deadline = Date.now() + 30_000;
    while (!(await portIsFree(port))) {
      if (Date.now() > deadline) throw new Error(`port ${port} still taken 30 s after regcred local was killed:\n${readFileSync(join(dir, 'controlplane.log'), 'utf8').slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const log = () => readFileSync(join(dir, 'controlplane.log'), 'utf8');
    for (let i = 0; i < 100 && !log().includes('all components stopped'); i++) await new Promise((r) => setTimeout(r, 100));
    expect(log()).toContain('regcred-controlplane: stdin closed (the process that started it has exited); stopping');
    expect(log()).toMatch(/regcred-controlplane: etcd stopped in \d+ms; all components stopped in \d+ms/);
    expect(log()).not.toContain('did not stop');

    const second = await startLocal(['--dir', dir]);
    expect(serverIn(dir)).toBe(server);
    await second.stop();
  }, 180_000);

  it('takes the port --api-port names; when the recorded port is taken, moves and says so; a taken --api-port is an error', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regcred-local-port-'));
    const port = await freePort();
    const first = await startLocal(['--dir', dir, '--api-port', String(port)]);
    expect(serverIn(dir)).toBe(`https://127.0.0.1:${port}`);
    await first.stop();

    // Something else takes the port while the control plane is down.
    const squatter = await listen(port);
    try {
      const moved = await startLocal(['--dir', dir]);
      const now = serverIn(dir);
      expect(now).not.toBe(`https://127.0.0.1:${port}`);
      const newPort = Number(new URL(now).port);
      expect(moved.stderr()).toContain(`regcred: port ${port} was taken; the API server is now on ${newPort}: reload ${join(dir, 'kubeconfig')}\n`);
      await moved.stop();

      const refused = await runCli(['local', '--dir', dir, '--api-port', String(port)]);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toContain(`regcred local: port ${port} (--api-port) is in use on 127.0.0.1`);
      expect(serverIn(dir)).toBe(now);
    } finally {
      await new Promise((r) => squatter.close(r));
    }

    const bad = await runCli(['local', '--dir', dir, '--api-port', 'eighty']);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/option '--api-port <port>' argument 'eighty' is invalid\. must be a whole number from 1 to 65535/);
  }, 180_000);
});

function serverIn(dir: string): string {
  return /^\s*server:\s*(\S+)\s*$/m.exec(readFileSync(join(dir, 'kubeconfig'), 'utf8'))?.[1] ?? '(no server)';
}

interface LocalProcess {
  child: ChildProcess;
  stdout: string[];
  stderr(): string;
  /** SIGINT, as Ctrl-C; resolves once it has exited 0 and asserts it did not wait out a timeout. */
  stop(): Promise<void>;
}

/** `regcred local ARGS` as a child process, resolved once it prints how to use the control plane. */
async function startLocal(args: string[]): Promise<LocalProcess> {
  const child = spawn(process.execPath, [CLI, 'local', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(`code ${code} signal ${signal}`)));
  const stdout: string[] = [];
  await new Promise<void>((ready, failed) => {
    createInterface({ input: child.stdout }).on('line', (line) => {
      stdout.push(line);
      if (line.includes('kubectl get registrycredentials')) ready();
    });
    void exited.then((code) => failed(new Error(`regcred local exited ${code}:\n${stdout.join('\n')}\n${stderr}`)));
  });
  return {
    child,
    stdout,
    stderr: () => stderr,
    async stop() {
      child.kill('SIGINT');
      const how = await exited;
      if (how !== 'code 0 signal null') throw new Error(`regcred local ended with ${how}; stderr:\n${stderr}`);
      expect(stderr).toContain('regcred: stopping the local control plane (SIGINT)');
      expect(stderr).toMatch(/regcred: local control plane stopped in [\d.]+s\n/);
      expect(stderr).not.toMatch(/did not stop|killing it/);
    },
  };
}

function listen(port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen({ host: '127.0.0.1', port }, () => done(server));
  });
}

function portIsFree(port: number): Promise<boolean> {
  return listen(port).then(
    (server) => new Promise<boolean>((done) => server.close(() => done(true))),
    () => false,
  );
}

async function freePort(): Promise<number> {
  const server = await listen(0);
  const { port } = server.address() as AddressInfo;
  await new Promise((r) => server.close(r));
  return port;
}
