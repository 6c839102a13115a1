import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { connect, loadKubeConfig, type KubeConnection } from '../../src/kube/connection.js';
import { kubeconfigPath, OPERATOR_CONTEXT } from '../support/cluster.js';

/**
 * The operator's API connections are pooled: thousands of writes in a fan-out reuse a few kept-alive TLS
 * connections instead of opening one each (client-node 2.0 alone builds a new undici Agent per request).
 * Counted with undici's own diagnostics channel, against the real API server, as the operator's identity.
 */
const CONNECTED = 'undici:client:connected';
const REQUESTS = 40;
const CONCURRENCY = 4;
let connections = 0;
const sockets: { destroyed: boolean }[] = [];
const onConnected = (message: unknown): void => {
  connections += 1;
  sockets.push((message as { socket: { destroyed: boolean } }).socket);
};

async function countConnections(work: () => Promise<void>): Promise<number> {
  const before = connections;
  await work();
  return connections - before;
}

async function listInBatches(core: CoreV1Api): Promise<void> {
  for (let i = 0; i < REQUESTS; i += CONCURRENCY) {
    await Promise.all(Array.from({ length: CONCURRENCY }, () => core.listNamespace({ limit: 1 })));
  }
}

let conn: KubeConnection;

beforeAll(() => {
  subscribe(CONNECTED, onConnected);
  conn = connect(loadKubeConfig({ kubeconfig: kubeconfigPath(), context: OPERATOR_CONTEXT }));
});

afterAll(async () => {
  unsubscribe(CONNECTED, onConnected);
  await conn.close();
});

describe('API connections', () => {
  it(`serves ${REQUESTS} requests, ${CONCURRENCY} at a time, over at most ${CONCURRENCY} connections`, async () => {
    const opened = await countConnections(() => listInBatches(conn.core));
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(opened).toBeLessThanOrEqual(CONCURRENCY);
  });

  it('keeps reusing them for later requests', async () => {
    await listInBatches(conn.core);
    const opened = await countConnections(() => listInBatches(conn.core));
    expect(opened).toBe(0);
  });

  it('client-node on its own opens a connection per request (when this fails, the workaround in src/kube/connection.ts can go)', async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath());
    kc.setCurrentContext(OPERATOR_CONTEXT);
    const opened = await countConnections(() => listInBatches(kc.makeApiClient(CoreV1Api)));
    expect(opened).toBe(REQUESTS);
  });

  it('closes its connections on close(), so nothing holds the process open', async () => {
    const other = connect(loadKubeConfig({ kubeconfig: kubeconfigPath(), context: OPERATOR_CONTEXT }));
    const first = sockets.length;
    await Promise.all([other.core.listNamespace({ limit: 1 }), other.core.listNamespace({ limit: 1 })]);
    const opened = sockets.slice(first);
    expect(opened.length).toBeGreaterThanOrEqual(1);
    expect(opened.every((s) => !s.destroyed)).toBe(true);
    await other.close();
    expect(opened.every((s) => s.destroyed)).toBe(true);
  });
});
