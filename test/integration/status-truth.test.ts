/**
 * What the operator reports must be true of what it has published: status conditions, counts and
 * times, Events, `kubectl get` columns and metrics, in the cases where they are easiest to get wrong:
 * a token that lapses while its provider is down, refresh after refresh, an invalid spec over a
 * working credential, namespaces named that do not exist, and failures of static sources.
 *
 * The operator runs with `--resync-seconds 600`, so that no resync can stand in for a wake-up the
 * operator should have scheduled itself. Google tokens come from the local stand-in
 * (test/support/google-token-server.ts) with a lifetime of seconds.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Condition, RegistryCredential } from '../../src/api/types.js';
import { adminConnection, kubectl, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import {
  condition,
  deleteCredential,
  dockerConfig,
  getCredential,
  operatorRequests,
  patchCredentialSpec,
  replaceSourceSecret,
  readSecret,
  sleep,
  waitForCondition,
  waitForCredentialGone,
  TestResources,
} from '../support/fixtures.js';
import { generateServiceAccountKey, startGoogleTokenServer, type GoogleTokenServer } from '../support/google-token-server.js';
import { parseExposition, samplesOf, valueOf, type Sample } from '../support/prometheus.js';
import { googleTestEnv } from '../support/provider-env.js';

const EXPIRES_AT = 'regcred.io/expires-at';
/** Lifetime of the tokens the stand-in issues: refreshed at about half of it (10 s ± 2 s). */
const LIFETIME_SECONDS = 20;
const REGISTRY = 'registry.example.com';

let server: GoogleTokenServer;
let operator: OperatorProcess;
let metricsPort: number;
let dir: string;
const resources = new TestResources();

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`http://127.0.0.1:${metricsPort}/metrics`, { signal: AbortSignal.timeout(10_000) });
  expect(res.status).toBe(200);
  return parseExposition(await res.text());
}

/** A gcr credential with a service account key the stand-in knows, publishing to one new namespace. */
async function gcrCredential(): Promise<{ name: string; ns: string }> {
  const key = generateServiceAccountKey();
  server.addServiceAccount(key.email, key.publicKeyPem);
  const ns = await resources.namespace('truth-gcr');
  const src = await resources.source({ 'key.json': key.keyJson }, uniqueName('truth-gcp'));
  const name = await resources.credential({ gcr: { registries: ['gcr.io'], credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } }, 'truth-gcr');
  return { name, ns };
}

/** Deletes a credential now (the operator still runs), so that it calls the token endpoint no more. */
async function retire(name: string): Promise<void> {
  await deleteCredential(name);
  await waitForCredentialGone(name, 60_000);
}

async function staticCredential(namespaces: string[]): Promise<string> {
  const src = await resources.source({ username: 'truth-robot', password: uniqueName('pw-truth') });
  return resources.credential({ static: { registry: REGISTRY, credentialsSecretRef: { name: src } }, namespaces: { names: namespaces } }, 'truth');
}

/** The token a Secret holds for gcr.io, with the expiry annotated beside it. */
async function publishedToken(ns: string, name: string): Promise<{ token: string; expiresAt: string | undefined } | undefined> {
  const secret = await readSecret(ns, name);
  const token = dockerConfig(secret)?.auths['gcr.io']?.password;
  return token ? { token, expiresAt: secret?.metadata?.annotations?.[EXPIRES_AT] } : undefined;
}

function describeCondition(c: Pick<Condition, 'status' | 'reason'> | undefined): string {
  return c ? `${c.status}/${c.reason}` : 'absent';
}

beforeAll(async () => {
  server = await startGoogleTokenServer({ lifetimeSeconds: LIFETIME_SECONDS });
  dir = mkdtempSync(join(tmpdir(), 'regcred-truth-'));
  operator = startOperator(['--resync-seconds', '600'], googleTestEnv(server, dir));
  metricsPort = (await operator.waitForLog((l) => l.msg === 'metrics server listening')).port as number;
  await operator.waitForLog((l) => l.msg === 'caches synced');
});

afterAll(async () => {
  server?.recover();
  await resources.deleteCredentials();
  await operator?.stop();
  await resources.deleteSourcesAndNamespaces();
  await server?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 180_000);

describe('a credential that lapses while its provider is down', () => {
  it('turns TokenAvailable False/Expired (and Ready False) within 3 s after status.expiresAt, woken by the expiry and not by a retry', async () => {
    server.recover();
    const { name, ns } = await gcrCredential();
    const ready = await waitForCondition(name, 'Ready', 'True');
    const published = await publishedToken(ns, name);
    expect(published?.expiresAt).toBe(ready.status?.expiresAt);
    // From now on Google answers 500 to everything: the refresh at about half the lifetime fails.
    server.failAll(500);
    const expiresAtText = ready.status!.expiresAt!;
    const expiresAt = Date.parse(expiresAtText);
    // Read while the token is still valid.
    expect(expiresAt).toBeGreaterThan(Date.now());

    interface Observation {
      /** When the read returned: the status it shows was written before then. */
      at: number;
      token: Condition | undefined;
      ready: Condition | undefined;
    }
    const samples: Observation[] = [];
    const deadline = expiresAt + 90_000;
    let expired: Observation | undefined;
    while (!expired && Date.now() < deadline) {
      const credential = await getCredential(name);
      const sample = { at: Date.now(), token: condition(credential, 'TokenAvailable') as Condition | undefined, ready: condition(credential, 'Ready') as Condition | undefined };
      samples.push(sample);
      if (sample.token?.status === 'False' && sample.token.reason === 'Expired') expired = sample;
      else await sleep(100);
    }
    const history = samples
      .filter((s, i) => i === 0 || describeCondition(s.token) !== describeCondition(samples[i - 1]!.token))
      .map((s) => `${new Date(s.at).toISOString()} TokenAvailable=${describeCondition(s.token)}`);
    process.stderr.write(`[status-truth] expiresAt ${expiresAtText}; TokenAvailable history:\n  ${history.join('\n  ')}\n`);

    // While the published token is valid, a failing refresh says so, and the token stays available.
    const whileValid = samples.filter((s) => s.at < expiresAt);
    expect(whileValid.some((s) => s.token?.status === 'True' && s.token.reason === 'RefreshFailing')).toBe(true);
    expect(whileValid.filter((s) => s.token?.status !== 'True').map((s) => describeCondition(s.token))).toEqual([]);

    expect(expired).toBeDefined();
    expect(expired!.ready?.status).toBe('False');
    const transition = Date.parse(expired!.token!.lastTransitionTime);
    process.stderr.write(`[status-truth] Expired at ${expired!.token!.lastTransitionTime}, ${(transition - expiresAt) / 1000} s after expiresAt\n`);
    expect(transition).toBeGreaterThanOrEqual(expiresAt);
    expect(transition - expiresAt).toBeLessThanOrEqual(3000);
    // The flip came before the read that showed it, and within the second lastTransitionTime names.
    const flippedBy = Math.min(expired!.at, transition + 1000);
    const requestsInBetween = server.timedRequests.filter((r) => r.token && r.at.getTime() > expiresAt && r.at.getTime() < flippedBy);
    expect(requestsInBetween.map((r) => `${r.at.toISOString()} ${r.request}`)).toEqual([]);

    await retire(name);
    server.recover();
  }, 180_000);
});

describe('refresh after refresh', () => {
  it('says in status.lastRefreshTime and status.expiresAt when the token the Secrets hold was minted and when it expires', async () => {
    server.recover();
    const { name, ns } = await gcrCredential();
    await waitForCondition(name, 'Ready', 'True');

    const tokens: { token: string; expiresAt: string | undefined; seenAt: number; described: boolean }[] = [];
    const inconsistent: string[] = [];
    const check = (status: RegistryCredential['status'], holding: { token: string; expiresAt: string | undefined } | undefined): void => {
      if (status?.expiresAt && status.lastRefreshTime) {
        const lifetime = (Date.parse(status.expiresAt) - Date.parse(status.lastRefreshTime)) / 1000;
        if (lifetime < LIFETIME_SECONDS - 3 || lifetime > LIFETIME_SECONDS + 1) {
          inconsistent.push(`lastRefreshTime ${status.lastRefreshTime}, expiresAt ${status.expiresAt} (${lifetime} s apart)`);
        }
      }
      const current = tokens[tokens.length - 1];
      if (current && holding?.token === current.token && status?.expiresAt === current.expiresAt) current.described = true;
    };
    const deadline = Date.now() + 6 * LIFETIME_SECONDS * 1000;
    // The first token and at least three refreshes.
    while (tokens.length < 4 && Date.now() < deadline) {
      const [holding, credential] = await Promise.all([publishedToken(ns, name), getCredential(name)]);
      if (holding && holding.token !== tokens[tokens.length - 1]?.token) {
        const issued = server.issued.find((t) => t.accessToken === holding.token);
        expect(issued).toBeDefined();
        // The annotation beside the token is the expiry Google gave it: expires_in counted from when the answer
        // arrived (google-auth-library's expiry_date), so in the second the endpoint counted from, or the next
        // one when the answer crossed a second boundary; never before, and never another token's (tokens here
        // are issued seconds apart).
        const annotated = Date.parse(holding.expiresAt ?? '');
        const given = Math.floor(issued!.expiresAt.getTime() / 1000) * 1000;
        expect([given, given + 1000]).toContain(annotated);
        tokens.push({ ...holding, seenAt: Date.now(), described: false });
      }
      check(credential?.status, holding);
      await sleep(100);
    }
    expect(tokens.length).toBeGreaterThanOrEqual(4);
    // The status of the last token too (it is written after the Secrets).
    await waitFor(
      'the status to describe the token the Secret holds',
      async () => {
        const [holding, credential] = await Promise.all([publishedToken(ns, name), getCredential(name)]);
        check(credential?.status, holding);
        return tokens[tokens.length - 1]!.described || undefined;
      },
      30_000,
    );
    process.stderr.write(`[status-truth] ${tokens.length} tokens published; status expiresAt per token: ${tokens.map((t) => `${t.expiresAt}${t.described ? '' : ' (never in status)'}`).join(', ')}\n`);
    // Every token the Secret held was, while it held it, the one status described.
    expect(tokens.filter((t) => !t.described).map((t) => t.expiresAt)).toEqual([]);
    // And status never paired one token's expiry with another token's refresh time.
    expect(inconsistent).toEqual([]);

    await retire(name);
  }, 240_000);
});

describe('an invalid spec over a published credential', () => {
  it('reports InvalidSchedule and keeps reporting the provider, registries and namespaces it still serves', async () => {
    const namespaces = [await resources.namespace('truth-inv'), await resources.namespace('truth-inv')];
    const name = await staticCredential(namespaces);
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status).toMatchObject({ provider: 'static', registries: [REGISTRY], syncedNamespaces: 2, targetNamespaces: 2 });

    // The schema admits any string; the operator checks the expression.
    await patchCredentialSpec(name, { refresh: { schedule: 'every tuesday' } });
    const invalid = await waitForCondition(name, 'Ready', 'False', 'InvalidSchedule');
    expect(invalid.status?.provider).toBe('static');
    expect(invalid.status?.registries).toEqual(ready.status?.registries);
    expect(invalid.status?.syncedNamespaces).toBe(2);
    expect(invalid.status?.targetNamespaces).toBe(2);
    // Because it is so: the Secrets are still there, holding the credential.
    for (const ns of namespaces) {
      const secret = await readSecret(ns, name);
      expect(secret?.type).toBe('kubernetes.io/dockerconfigjson');
      expect(Object.keys(dockerConfig(secret)?.auths ?? {})).toEqual([REGISTRY]);
    }
    const got = await kubectl(['get', 'regcred', name]);
    expect(got.code).toBe(0);
    const [header, row] = got.stdout.trim().split('\n');
    const columns = Object.fromEntries(header!.split(/\s+/).map((column, i) => [column, row!.split(/\s+/)[i]]));
    expect(columns).toMatchObject({ NAME: name, SYNCED: '2', TARGETS: '2' });

    await patchCredentialSpec(name, { refresh: { schedule: '0 */6 * * *' } });
    const fixed = await waitForCondition(name, 'Ready', 'True');
    expect(fixed.status).toMatchObject({ provider: 'static', syncedNamespaces: 2, targetNamespaces: 2 });
  });
});

describe('namespaces named in spec.namespaces.names that do not exist', () => {
  const saysMissing = /(does not|doesn't|do not|don't) exist|not found/i;

  it('names the missing namespace in Ready (True, Synced) and in a Warning NamespacesNotFound Event', async () => {
    const ns = await resources.namespace('truth-names');
    const ghost = uniqueName('ghost');
    const name = await staticCredential([ns, ghost]);
    const ready = await waitForCondition(name, 'Ready', 'True', 'Synced');
    const message = condition(ready, 'Ready')!.message;
    expect(message).toContain(ghost);
    expect(message).toMatch(saysMissing);
    const event = await waitFor(`a Warning NamespacesNotFound Event about ${name}`, async () => {
      const events = await adminConnection().core.listNamespacedEvent({ namespace: 'default', fieldSelector: `involvedObject.name=${name}` });
      return events.items.find((e) => e.type === 'Warning' && e.reason === 'NamespacesNotFound');
    });
    expect(event.involvedObject.name).toBe(name);
    expect(event.message).toContain(ghost);
  });

  it('says NoTargets, naming the namespace, when the only namespace named does not exist', async () => {
    const ghost = uniqueName('ghost-only');
    const name = await staticCredential([ghost]);
    const ready = await waitForCondition(name, 'Ready', 'True', 'NoTargets');
    expect(condition(ready, 'Ready')!.message).toContain(ghost);
    expect(ready.status?.targetNamespaces).toBe(0);
  });
});

describe('metrics', () => {
  it('counts a static credential whose source Secret is missing as a failed reconcile and one failed attempt', async () => {
    const errorsBefore = valueOf(await scrape(), 'regcred_reconcile_total', { result: 'error' }) ?? 0;
    const ns = await resources.namespace('truth-metrics');
    const name = await resources.credential(
      { static: { registry: REGISTRY, credentialsSecretRef: { name: uniqueName('absent') } }, namespaces: { names: [ns] } },
      'truth-nosrc',
    );
    await waitForCondition(name, 'Ready', 'False');
    // Poll for both, then report both.
    let errors = 0;
    const attemptsSeen = new Set<number | undefined>();
    const until = Date.now() + 30_000;
    while (Date.now() < until) {
      const samples = await scrape();
      errors = (valueOf(samples, 'regcred_reconcile_total', { result: 'error' }) ?? 0) - errorsBefore;
      attemptsSeen.add(valueOf(samples, 'regcred_credential_failed_refresh_attempts', { credential: name }));
      if (errors > 0 && attemptsSeen.has(1)) break;
      await sleep(500);
    }
    process.stderr.write(`[status-truth] reconcile errors +${errors}; failed_refresh_attempts seen: ${[...attemptsSeen].join(', ')}\n`);
    expect(errors).toBeGreaterThan(0);
    expect([...attemptsSeen]).toContain(1);
  });

  it('does not count reading a static source Secret as a provider call', async () => {
    const name = await staticCredential([await resources.namespace('truth-metrics'), await resources.namespace('truth-metrics')]);
    const ready = await waitForCondition(name, 'Ready', 'True');
    expect(ready.status).toMatchObject({ syncedNamespaces: 2, targetNamespaces: 2 });
    const samples = await waitFor(`${name} ready in /metrics`, async () => {
      const scraped = await scrape();
      return valueOf(scraped, 'regcred_credential_ready', { credential: name }) === 1 ? scraped : undefined;
    });
    const staticCalls = samplesOf(samples, 'regcred_provider_mint_calls_total', { provider: 'static' }).filter((s) => s.value !== 0);
    expect(staticCalls).toEqual([]);
  });
});

describe('a Secret the API server refuses (HTTP 422)', () => {
  it('reports WriteRejected with the reason, does not retry the same write, and recovers when the source changes', async () => {
    const ns = await resources.namespace('truth-422');
    // A password of 480,000 bytes fits its source Secret, but the pull Secret repeats it in "auth" (base64):
    // about 1.12 MB, over the 1 MiB a Secret may hold.
    const src = await resources.source({ username: 'big', password: 'p'.repeat(480_000) });
    const name = await resources.credential({ static: { registry: REGISTRY, credentialsSecretRef: { name: src } }, namespaces: { names: [ns] } }, 'truth-422');
    const rejected = await waitForCondition(name, 'SecretsSynced', 'False', 'WriteRejected');
    expect(rejected.status?.failedNamespaces).toHaveLength(1);
    expect(rejected.status?.failedNamespaces?.[0]).toMatchObject({ namespace: ns, reason: 'WriteRejected' });
    expect(rejected.status?.failedNamespaces?.[0]?.message).toContain('Too long: may not be more than 1048576 bytes');
    expect(rejected.status?.failedNamespaces?.[0]?.message).toContain('the same write is not retried until the spec, its source Secret or the namespace changes');
    expect(await readSecret(ns, name)).toBeUndefined();

    // Settled: the same create is not tried again and again.
    const creates = (): number => operatorRequests().filter((e) => e.verb === 'create' && e.objectRef?.resource === 'secrets' && e.objectRef?.namespace === ns).length;
    await sleep(2_000);
    const settled = creates();
    expect(settled).toBeGreaterThanOrEqual(1);
    await sleep(5_000);
    expect(creates()).toBe(settled);

    await replaceSourceSecret(src, { username: 'big', password: uniqueName('pw-small') });
    await waitForCondition(name, 'Ready', 'True');
    expect(Object.keys(dockerConfig(await readSecret(ns, name))?.auths ?? {})).toEqual([REGISTRY]);
  }, 60_000);
});
