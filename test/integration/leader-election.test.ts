/**
 * Leader election with real operator processes (`regcred run --leader-elect`) against the local control
 * plane: one leader among several, one provider call per refresh however many replicas run, takeover
 * after SIGKILL (lease expiry) and SIGTERM (release), and fencing of a replica frozen past its lease,
 * read from the API server's audit log (each replica sends its holder identity in its User-Agent).
 *
 * Failover times are measured from the signal to the new leader's "became leader" line and printed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals';
import { CoordinationV1Api, type V1Lease } from '@kubernetes/client-node';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { adminConnection, OPERATOR_NAMESPACE, startOperator, uniqueName, waitFor, type LogLine, type OperatorProcess } from '../support/cluster.js';
import {
  auditEvents,
  createNamespace,
  dockerConfig,
  readSecret,
  sleep,
  waitForCondition,
  waitForPullSecrets,
  TestResources,
  WRITE_VERBS,
  type AuditEvent,
} from '../support/fixtures.js';
import { generateServiceAccountKey, startGoogleTokenServer, type GoogleTokenServer } from '../support/google-token-server.js';
import { googleTestEnv } from '../support/provider-env.js';

const LEASE = 'regcred-operator';
const resources = new TestResources();
const servers: GoogleTokenServer[] = [];
let running: Replica[] = [];
let dir: string;

interface Replica {
  name: string;
  proc: OperatorProcess;
  /** holderIdentity: the POD_NAME we gave it, "_", a random suffix. */
  identity: string;
}

async function startReplica(args: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<Replica> {
  const name = uniqueName('replica');
  const proc = startOperator(['--leader-elect', ...args], { POD_NAME: name, ...env });
  const waiting = await proc.waitForLog((l) => l.msg === 'waiting to become leader');
  const replica = { name, proc, identity: String(waiting.identity) };
  expect(replica.identity.startsWith(`${name}_`)).toBe(true);
  running.push(replica);
  return replica;
}

function becameLeader(replica: Replica, timeoutMs = 60_000): Promise<LogLine> {
  return replica.proc.waitForLog((l) => l.msg === 'became leader', timeoutMs);
}

function isLeading(replica: Replica): boolean {
  return replica.proc.logs.some((l) => l.msg === 'became leader');
}

async function readLease(): Promise<V1Lease> {
  const api = adminConnection().kubeConfig.makeApiClient(CoordinationV1Api);
  return api.readNamespacedLease({ namespace: OPERATOR_NAMESPACE, name: LEASE });
}

function port(replica: Replica, msg: string): number {
  const line = replica.proc.logs.find((l) => l.msg === msg);
  if (!line) throw new Error(`${replica.name} did not log "${msg}"`);
  return Number(line.port);
}

async function probe(replica: Replica, path: string): Promise<number> {
  return (await fetch(`http://127.0.0.1:${port(replica, 'health server listening')}${path}`)).status;
}

async function leaderGauge(replica: Replica): Promise<number> {
  const body = await (await fetch(`http://127.0.0.1:${port(replica, 'metrics server listening')}/metrics`)).text();
  return Number(/^regcred_leader (\d+)$/m.exec(body)?.[1]);
}

function by(replica: Replica): (e: AuditEvent) => boolean {
  return (e) => e.userAgent?.includes(replica.identity) ?? false;
}

/** When the API server received the replica's first successful write of the Lease: it acquired then. */
function acquiredAt(replica: Replica): string | undefined {
  return auditEvents()
    .filter(by(replica))
    .filter((e) => e.objectRef?.resource === 'leases' && (e.verb === 'update' || e.verb === 'create') && (e.responseStatus?.code ?? 0) < 300)
    .map((e) => e.requestReceivedTimestamp)
    .sort()[0];
}

function report(what: string, ms: number): void {
  process.stderr.write(`[leader-election] ${what}: ${(ms / 1000).toFixed(2)} s\n`);
}

async function labelledNamespaces(label: string, count: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < count; i += 25) {
    names.push(...(await Promise.all(Array.from({ length: Math.min(25, count - i) }, () => resources.namespace('le', { le: label })))));
  }
  return names;
}

async function secretsOf(credential: string): Promise<number> {
  const list = await adminConnection().core.listSecretForAllNamespaces({ labelSelector: `regcred.io/credential=${credential}` });
  return list.items.length;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'regcred-le-'));
});

afterEach(async () => {
  // A frozen replica cannot handle SIGTERM: wake it first. Followers first, the leader last (it releases).
  for (const r of running) r.proc.child.kill('SIGCONT');
  const ordered = [...running.filter((r) => !isLeading(r)), ...running.filter(isLeading)];
  for (const r of ordered) await r.proc.stop();
  running = [];
}, 60_000);

afterAll(async () => {
  // The finalizers need an operator: one, without election, for the clean-up only.
  const cleaner = startOperator();
  await cleaner.waitForLog((l) => l.msg === 'caches synced');
  await resources.deleteCredentials();
  await cleaner.stop();
  await resources.deleteSourcesAndNamespaces();
  await Promise.all(servers.map((s) => s.close()));
  rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('three replicas', () => {
  it('elect exactly one leader; the followers stay ready and call no provider; one token request per refresh', async () => {
    const lifetimeSeconds = 12;
    for (let i = 0; i < 3; i++) servers.push(await startGoogleTokenServer({ lifetimeSeconds }));
    const key = generateServiceAccountKey();
    for (const server of servers) server.addServiceAccount(key.email, key.publicKeyPem);
    const replicas: Replica[] = [];
    for (const server of servers) replicas.push(await startReplica([], googleTestEnv(server, dir)));
    await Promise.all(replicas.map((r) => r.proc.waitForLog((l) => l.msg === 'caches synced')));
    const leader = await waitFor('a leader', () => replicas.find(isLeading));
    const followers = replicas.filter((r) => r !== leader);
    // The others have seen it and say who it is.
    for (const f of followers) await f.proc.waitForLog((l) => l.msg === `leader is ${leader.identity}`);
    expect(replicas.filter(isLeading)).toEqual([leader]);
    const lease = await readLease();
    expect(lease.spec).toMatchObject({ holderIdentity: leader.identity, leaseDurationSeconds: 15 });
    // MicroTime, as the API server stores it: six fractional digits.
    expect(String(lease.spec?.renewTime)).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    // Followers are ready and live, and say they do not lead.
    for (const f of followers) {
      expect(await probe(f, '/readyz')).toBe(200);
      expect(await probe(f, '/healthz')).toBe(200);
      expect(await leaderGauge(f)).toBe(0);
    }
    expect(await leaderGauge(leader)).toBe(1);

    const ns = await resources.namespace('le-gcr');
    const source = await resources.source({ 'key.json': key.keyJson }, uniqueName('gcp-key'));
    const name = await resources.credential({ gcr: { registries: ['gcr.io'], credentialsSecretRef: { name: source } }, namespaces: { names: [ns] } }, 'le-gcr');
    await waitForCondition(name, 'Ready', 'True');
    const leaderServer = servers[replicas.indexOf(leader)]!;
    const requests = (): number => servers.reduce((sum, s) => sum + s.tokenRequests(), 0);
    const atStart = requests();

    // Watch the published token through a few refreshes.
    const seen = new Set<string>();
    const deadline = Date.now() + 2.5 * lifetimeSeconds * 1000;
    while (Date.now() < deadline) {
      const token = dockerConfig(await readSecret(ns, name))?.auths['gcr.io']?.password;
      if (token) seen.add(token);
      await sleep(200);
    }
    const total = await waitFor('the newest token issued to be published', async () => {
      const newest = leaderServer.issued.at(-1)!.accessToken;
      const token = dockerConfig(await readSecret(ns, name))?.auths['gcr.io']?.password;
      if (token) seen.add(token);
      return token === newest && leaderServer.issued.at(-1)!.accessToken === newest ? requests() - atStart : undefined;
    });
    const refreshes = seen.size - 1;
    process.stderr.write(`[leader-election] 3 replicas: ${refreshes} refreshes, ${total} token requests\n`);
    expect(refreshes).toBeGreaterThanOrEqual(2);
    expect(total).toBe(refreshes);
    // Only the leader ever called Google.
    for (const f of followers) expect(servers[replicas.indexOf(f)]!.tokenRequests()).toBe(0);
    // And only the leader wrote, besides the Lease reads every replica makes.
    const followerWrites = auditEvents().filter((e) => followers.some((f) => by(f)(e)) && WRITE_VERBS.has(e.verb));
    expect(followerWrites).toEqual([]);
  }, 180_000);
});

describe('failover', () => {
  it('SIGKILL of the leader in the middle of a fan-out: another replica takes the lease when it expires and finishes', async () => {
    const label = uniqueName('kill');
    const count = 200;
    const namespaces = new Set(await labelledNamespaces(label, count));
    const source = await resources.source({ username: 'robot', password: 'kill-test' });
    // One write at a time: a fan-out long enough to kill in the middle of.
    const a = await startReplica(['--write-concurrency', '1']);
    await becameLeader(a);
    const b = await startReplica(['--write-concurrency', '1']);
    await b.proc.waitForLog((l) => l.msg === 'caches synced');
    await b.proc.waitForLog((l) => l.msg === `leader is ${a.identity}`);

    const name = await resources.credential(
      { static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } }, namespaces: { selector: { matchLabels: { le: label } } } },
      'le-kill',
    );
    await waitFor('the fan-out to begin', async () => (await secretsOf(name)) > 0, 30_000, 20);
    const killedAt = Date.now();
    a.proc.child.kill('SIGKILL');
    await a.proc.exited;
    await sleep(500);
    const atKill = await secretsOf(name);
    expect(atKill).toBeLessThan(count);

    const line = await becameLeader(b);
    const failover = Date.parse(String(line.time)) - killedAt;
    report(`SIGKILL → new leader acquired (${atKill}/${count} Secrets written by the old one)`, failover);
    const ready = await waitForCondition(name, 'Ready', 'True', undefined, 60_000);
    expect(ready.status?.syncedNamespaces).toBe(count);
    expect(await secretsOf(name)).toBe(count);
    const lease = await readLease();
    expect(lease.spec?.holderIdentity).toBe(b.identity);
    // Both wrote Secrets: the old leader until it died, the new one the rest.
    const creates = auditEvents().filter((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets' && namespaces.has(e.objectRef.namespace ?? ''));
    expect(creates.filter(by(a)).length).toBeGreaterThan(0);
    expect(creates.filter(by(b)).length).toBeGreaterThan(0);
  }, 180_000);

  it('SIGTERM of the leader: it releases the lease and another replica takes over within a retry period, not a lease duration', async () => {
    // A lease far longer than the wait below: only a release lets the follower in that soon.
    const timing = ['--leader-elect-lease-duration-seconds', '60', '--leader-elect-renew-deadline-seconds', '40'];
    const a = await startReplica(timing);
    await becameLeader(a);
    const b = await startReplica(timing);
    await b.proc.waitForLog((l) => l.msg === `leader is ${a.identity}`);
    const before = (await readLease()).spec?.leaseTransitions ?? 0;
    const terminatedAt = Date.now();
    expect(await a.proc.stop('SIGTERM')).toBe(0);
    expect(a.proc.logs.map((l) => l.msg)).toContain('released the lease');
    const line = await becameLeader(b, 30_000);
    report('SIGTERM → new leader acquired', Date.parse(String(line.time)) - terminatedAt);
    const lease = await readLease();
    expect(lease.spec).toMatchObject({ holderIdentity: b.identity, leaseTransitions: before + 1 });
  }, 120_000);
});

describe('fencing', () => {
  it('a leader frozen past its lease (SIGSTOP) writes nothing after another replica took over, and exits when it wakes', async () => {
    const label = uniqueName('stop');
    await labelledNamespaces(label, 1);
    const source = await resources.source({ username: 'robot', password: 'stop-test' });
    const a = await startReplica();
    await becameLeader(a);
    const b = await startReplica();
    await b.proc.waitForLog((l) => l.msg === `leader is ${a.identity}`);
    const name = await resources.credential(
      { static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } }, namespaces: { selector: { matchLabels: { le: label } } } },
      'le-stop',
    );
    await waitForCondition(name, 'Ready', 'True');

    // A freezes; B takes over once the lease has gone unrenewed for its duration.
    const stoppedAt = Date.now();
    a.proc.child.kill('SIGSTOP');
    const line = await becameLeader(b);
    report('SIGSTOP → new leader acquired', Date.parse(String(line.time)) - stoppedAt);
    const takeover = await waitFor('the takeover in the audit log', () => acquiredAt(b));

    // A change the new leader writes.
    const first = uniqueName('le-stop');
    await createNamespace(first, { le: label });
    resources.namespaces.push(first);
    await waitFor(`the Secret in ${first}`, async () => (await readSecret(first, name)) !== undefined);

    // Now B freezes too, a second change arrives, and A wakes: it sees work nobody has done, and must not do it.
    b.proc.child.kill('SIGSTOP');
    const second = uniqueName('le-stop');
    await createNamespace(second, { le: label });
    resources.namespaces.push(second);
    a.proc.child.kill('SIGCONT');
    const refused = await a.proc.waitForLog((l) => typeof l.err === 'string' && l.err.includes('does not hold the leader lease'));
    expect(refused.err).toMatch(/^refused to /);
    await a.proc.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('lost leadership'));
    expect(await a.proc.exited).toBe(1);
    expect(await readSecret(second, name)).toBeUndefined();

    // B wakes, renews its lease (nobody took it) and does the work.
    b.proc.child.kill('SIGCONT');
    await waitFor(`the Secret in ${second}`, async () => (await readSecret(second, name)) !== undefined);
    await waitForPullSecrets(second, [name]);

    const events = auditEvents();
    const fromA = events.filter(by(a));
    // A was talking to the API server after the takeover (reading the Lease), but wrote nothing.
    expect(fromA.some((e) => e.requestReceivedTimestamp > takeover)).toBe(true);
    expect(fromA.filter((e) => WRITE_VERBS.has(e.verb) && e.requestReceivedTimestamp > takeover)).toEqual([]);
    // The Secrets in both namespaces are B's.
    const secretCreates = events.filter((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets' && (e.objectRef.namespace === first || e.objectRef.namespace === second));
    expect(secretCreates.length).toBe(2);
    expect(secretCreates.every(by(b))).toBe(true);
  }, 180_000);
});
