/**
 * The operator as a person meets it in its first hour, run as the real child process: its probes
 * against a real API server and against one that is not there, and its log as a log pipeline reads it
 * (JSON lines whose level is a word, library warnings among them, one clear line when the API server
 * cannot be reached).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { KubeConfig } from '@kubernetes/client-node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubeconfigPath, startOperator, waitFor, type LogLine, type OperatorProcess } from '../support/cluster.js';
import { sleep, waitForCondition, TestResources } from '../support/fixtures.js';

const LEVELS = new Set(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);

let dir: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'regcred-health-'));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

async function probe(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(5000) });
  return { status: res.status, body: await res.text() };
}

async function healthPort(operator: OperatorProcess): Promise<number> {
  const line = await operator.waitForLog((l) => l.msg === 'health server listening');
  return line.port as number;
}

/** A TCP port nothing listens on: bound, then closed. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A copy of the test kubeconfig whose every cluster is at `server`: same contexts and credentials, nothing there. */
function kubeconfigAt(server: string): string {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath());
  kc.loadFromOptions({
    clusters: kc.clusters.map((c) => ({ ...c, server })),
    users: kc.users,
    contexts: kc.contexts,
    currentContext: kc.currentContext,
  });
  const path = join(dir, `kubeconfig-${server.replace(/\W+/g, '-')}`);
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

/** A metadata server that resets every connection: gcp-metadata then emits a MetadataLookupWarning. */
async function resettingServer(): Promise<Server> {
  const server = createServer((socket) => socket.resetAndDestroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

describe('against the test cluster', () => {
  let operator: OperatorProcess;
  let metadata: Server;
  let port: number;
  const resources = new TestResources();

  beforeAll(async () => {
    metadata = await resettingServer();
    operator = startOperator([], {
      GCE_METADATA_HOST: `127.0.0.1:${(metadata.address() as AddressInfo).port}`,
      GOOGLE_APPLICATION_CREDENTIALS: '',
      CLOUDSDK_CONFIG: join(dir, 'gcloud'),
    });
    port = await healthPort(operator);
  });

  afterAll(async () => {
    await resources.deleteCredentials();
    await operator.stop();
    await resources.deleteSourcesAndNamespaces();
    await new Promise<void>((resolve) => metadata.close(() => resolve()));
  });

  it('/healthz is 200, and /readyz 200 once the caches synced', async () => {
    await operator.waitForLog((l) => l.msg === 'caches synced');
    expect(await probe(port, '/readyz')).toEqual({ status: 200, body: 'ok\n' });
    expect(await probe(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  });

  it('routes a library\'s process warning (gcp-metadata) into the log as a warn line, not raw to stderr', async () => {
    // Application Default Credentials make google-auth-library ask the metadata server, which resets the connection.
    const ns = await resources.namespace('health');
    const name = await resources.credential({ gcr: { registries: ['gcr.io'] }, namespaces: { names: [ns] } }, 'adc');
    const line = await operator.waitForLog((l) => l.warning === 'MetadataLookupWarning');
    expect(line).toMatchObject({ level: 'warn' });
    expect(line.msg).toMatch(/^MetadataLookupWarning: received unexpected error = .*ECONNRESET/);
    await waitForCondition(name, 'Ready', 'False');
    expect(operator.rawOutput.filter((l) => /^\(node:\d+\)/.test(l))).toEqual([]);
  });

  it('writes every line as JSON whose level is a word', () => {
    expect(operator.rawOutput.length).toBeGreaterThan(3);
    expect(operator.logs).toHaveLength(operator.rawOutput.length);
    for (const line of operator.logs) expect(LEVELS.has(line.level)).toBe(true);
    expect(operator.rawOutput.filter((l) => /"level":\d/.test(l))).toEqual([]);
  });
});

describe('an API server that cannot be reached', () => {
  let operator: OperatorProcess;
  let server: string;
  let port: number;

  beforeAll(async () => {
    server = `https://127.0.0.1:${await closedPort()}`;
    // The later --kubeconfig wins over the test cluster's.
    operator = startOperator(['--kubeconfig', kubeconfigAt(server)]);
    port = await healthPort(operator);
  });

  afterAll(async () => {
    await operator.stop();
  });

  it('says so in one error line that names the server and what to check', async () => {
    const line = await operator.waitForLog((l) => l.level === 'error');
    expect(line).toMatchObject({ problem: 'unreachable', server: `${server} (context regcred-operator)` });
    expect(line.err).toMatch(/ECONNREFUSED/);
    expect(line.msg).toContain(`cannot reach the API server ${server}`);
    expect(line.msg).toContain('is the cluster up');
    expect(line.msg).toContain('--kubeconfig');
  });

  it('is not ready, and still live: a restart would not bring the API server back', async () => {
    const ready = await probe(port, '/readyz');
    expect(ready.status).toBe(503);
    expect(ready.body).toMatch(/^not ready: caches not synced yet: /);
    expect(await probe(port, '/healthz')).toEqual({ status: 200, body: 'ok\n' });
  });

  it('keeps retrying, quietly, without exiting', async () => {
    const retries = (): LogLine[] => operator.logs.filter((l) => l.msg === 'watch failed; restarting');
    // Five informers, restarting after 1 s, 2 s, 4 s…: a second round within a few seconds.
    await waitFor('a second round of retries', () => retries().length >= 10, 15_000);
    await sleep(500);
    expect(operator.child.exitCode).toBeNull();
    expect(retries().every((l) => l.level === 'debug')).toBe(true);
    expect(operator.logs.filter((l) => l.level === 'error')).toHaveLength(1);
    expect(operator.logs.filter((l) => l.level === 'warn')).toEqual([]);
    expect((await probe(port, '/healthz')).status).toBe(200);
    expect((await probe(port, '/readyz')).status).toBe(503);
  });
});
