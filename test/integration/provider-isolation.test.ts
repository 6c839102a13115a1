/**
 * One provider that hangs must not stall the credentials of other providers. ECR is pointed at a TCP
 * server that accepts connections and never answers (a black-holed endpoint, a wedged proxy); eight ECR
 * credentials call it at once, more than the operator's workers (4 by default). A static credential,
 * which calls nobody, must still reach a new namespace at once, and the ECR credentials must say in
 * status what they are waiting for.
 *
 * `--provider-timeout-seconds 5` bounds one provider call; `--provider-concurrency` (default 4) bounds
 * the calls in flight per provider, with the rest waiting, both shown as gauges.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.js';
import type { RegistryCredential } from '../../src/api/types.js';
import { adminConnection, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { condition, createCredential, getCredential, readSecret, sleep, waitForPullSecrets, TestResources } from '../support/fixtures.js';
import { parseExposition, valueOf, type Sample } from '../support/prometheus.js';
import { awsTestEnv } from '../support/provider-env.js';

const ECR_CREDENTIALS = 8;
const PROVIDER_TIMEOUT_SECONDS = 5;
const label = uniqueName('iso');

let blackHole: { server: Server; port: number; sockets: Set<Socket>; connections: number };
let operator: OperatorProcess | undefined;
let metricsPort: number;
let stateDir: string;
const resources = new TestResources();

/** Accepts every connection, reads what is sent, never answers. */
async function startBlackHole(): Promise<typeof blackHole> {
  const sockets = new Set<Socket>();
  const hole = { server: createServer(), port: 0, sockets, connections: 0 };
  hole.server.on('connection', (socket) => {
    hole.connections += 1;
    sockets.add(socket);
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => hole.server.listen(0, '127.0.0.1', resolve));
  hole.port = (hole.server.address() as { port: number }).port;
  return hole;
}

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

beforeAll(async () => {
  blackHole = await startBlackHole();
  stateDir = mkdtempSync(join(tmpdir(), 'regcred-iso-'));
  const endpoint = `http://127.0.0.1:${blackHole.port}`;
  operator = startOperator(
    ['--resync-seconds', '600', '--provider-timeout-seconds', String(PROVIDER_TIMEOUT_SECONDS)],
    // Static keys from the environment: resolving them calls nothing.
    awsTestEnv(endpoint, stateDir, 'us-east-1', { AWS_ACCESS_KEY_ID: 'AKIAISOLATIONTEST001', AWS_SECRET_ACCESS_KEY: 'isolation-test-dummy-secret-key' }),
  );
  metricsPort = (await operator.waitForLog((l) => l.msg === 'metrics server listening')).port as number;
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  // Let the hanging calls fail at once, so that the finalizers run promptly.
  for (const socket of blackHole?.sockets ?? []) socket.destroy();
  if (blackHole) await new Promise<void>((resolve) => blackHole.server.close(() => resolve()));
  await resources.deleteCredentials();
  await operator?.stop();
  await resources.deleteSourcesAndNamespaces();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
}, 300_000);

describe('a provider that never answers', () => {
  it('does not delay a static credential, and the credentials waiting on it say Minting, then ProviderUnreachable', async () => {
    const source = await resources.source({ username: 'iso-robot', password: uniqueName('pw-iso') });
    const staticName = await resources.credential(
      { static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } }, namespaces: { selector: { matchLabels: { iso: label } } } },
      'iso-static',
    );
    await waitFor(`${staticName} status to describe its spec`, async () => {
      const credential = await getCredential(staticName);
      return credential?.status?.observedGeneration === credential?.metadata.generation;
    });

    // Every Ready and TokenAvailable state each ECR credential shows, in order.
    const ecrNames: string[] = [];
    const seen = new Map<string, string[]>();
    let polling = true;
    const poller = (async () => {
      while (polling) {
        const list = (await adminConnection().custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })) as { items: RegistryCredential[] };
        for (const credential of list.items) {
          const name = credential.metadata.name;
          if (!ecrNames.includes(name)) continue;
          const states = seen.get(name) ?? [];
          for (const type of ['Ready', 'TokenAvailable']) {
            const c = condition(credential, type);
            const state = `${type}=${c ? `${c.status}/${c.reason}` : 'absent'}`;
            if (!states.includes(state)) states.push(state);
          }
          seen.set(name, states);
        }
        await sleep(200);
      }
    })();

    try {
      for (let i = 0; i < ECR_CREDENTIALS; i++) {
        const ns = await resources.namespace('iso-ecr');
        const name = uniqueName('iso-ecr');
        ecrNames.push(name);
        await createCredential(name, { ecr: { region: 'us-east-1' }, namespaces: { names: [ns] } });
        resources.credentials.push(name);
      }

      // Four calls hang in flight, four wait for a slot.
      const gauges = await waitFor(
        '4 ECR calls in flight and 4 waiting',
        async () => {
          const samples = await scrape();
          const inFlight = valueOf(samples, 'regcred_provider_calls_in_flight', { provider: 'ecr' });
          const waiting = valueOf(samples, 'regcred_provider_calls_waiting', { provider: 'ecr' });
          return inFlight === 4 && waiting === 4 ? { inFlight, waiting } : undefined;
        },
        15_000,
      );
      expect(gauges).toEqual({ inFlight: 4, waiting: 4 });

      // While they hang, a new namespace gets the static credential at once.
      const started = Date.now();
      const ns = await resources.namespace('iso-new', { iso: label });
      const secret = await waitFor(`Secret ${staticName} in the new namespace ${ns}`, () => readSecret(ns, staticName), 5000);
      process.stderr.write(`[provider-isolation] the new namespace waited ${Date.now() - started} ms for its Secret\n`);
      expect(secret.type).toBe('kubernetes.io/dockerconfigjson');
      await waitForPullSecrets(ns, [staticName]);

      // Each ECR credential: Minting while its call is outstanding, then the timeout, naming the endpoint.
      for (const name of ecrNames) {
        const failed = await waitFor(
          `${name} TokenAvailable=False (ProviderUnreachable)`,
          async () => {
            const credential = await getCredential(name);
            const token = condition(credential, 'TokenAvailable');
            return token?.status === 'False' && token.reason === 'ProviderUnreachable' ? token : undefined;
          },
          60_000,
        );
        expect(failed.message).toContain(`127.0.0.1:${blackHole.port}`);
        // Seen here, perhaps before the poller's next list: it is the state that comes after the others.
        const states = seen.get(name) ?? [];
        if (!states.includes('TokenAvailable=False/ProviderUnreachable')) seen.set(name, [...states, 'TokenAvailable=False/ProviderUnreachable']);
      }
    } finally {
      polling = false;
      await poller;
    }
    expect(blackHole.connections).toBeGreaterThan(0);
    for (const name of ecrNames) {
      const states = seen.get(name) ?? [];
      const minting = states.indexOf('Ready=Unknown/Minting');
      const unreachable = states.indexOf('TokenAvailable=False/ProviderUnreachable');
      // The states are in the expectation so that a failure shows them all.
      expect({ name, states, mintingBeforeUnreachable: minting >= 0 && minting < unreachable }).toEqual({ name, states, mintingBeforeUnreachable: true });
    }
  }, 240_000);
});
