import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { plural } from '../../src/status/plural.js';
import { generateServiceAccountKey, startGoogleTokenServer, type GoogleTokenServer, type IssuedToken } from '../../test/support/google-token-server.js';
import { auditMark } from '../lib/audit.js';
import { startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import { carriesPullSecret, createCredential, createOpaqueSecret, credentialStatus, deleteCredential, deleteOpaqueSecret, OPERATOR_USER, rawGet, TARGET_LABEL } from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { RefreshResult, RefreshRollout, WorkloadRefreshResult } from '../lib/results.js';
import { errorMessage, median, progress, sleep, TimeoutError, waitUntil } from '../lib/util.js';
import { POLL_INTERVAL_MS, writesSince } from './fanout.js';

/** A second RegistryCredential, from Google, beside the static one; its Secret has its name. */
export const GOOGLE_CREDENTIAL = 'bench-gcr';
const GOOGLE_SOURCE = 'bench-gcp-key';
export const GOOGLE_REGISTRY = 'gcr.io';
/** What the token endpoint hands out once the refresh figures are taken: long enough that nothing is due during the steady state. */
const LONG_LIFETIME_SECONDS = 3600;

/**
 * Token lifetime at a size: the operator refreshes at half of it (±10 %), and a refresh has to reach every
 * namespace well before the next one is due, so it grows with the fan-out (about 9 s for 1,000 Secrets here).
 */
export function tokenLifetimeFor(size: number, override?: number): number {
  return override ?? 16 + Math.ceil(size / 50);
}

/** What the Google run leaves for the steady-state scenario, and how to take it down. */
export interface GoogleSetup {
  server: GoogleTokenServer;
  env: NodeJS.ProcessEnv;
  cleanUp(): Promise<void>;
}

interface Snapshot {
  /** Namespace → index in server.issued of the token its Secret holds (-1: a token the endpoint never issued). */
  held: Map<string, number>;
  at: number;
}

async function snapshot(ctx: BenchContext, server: GoogleTokenServer, targets: ReadonlySet<string>, credential = GOOGLE_CREDENTIAL): Promise<Snapshot> {
  const list = await rawGet<{ items: V1Secret[] }>(ctx.admin.kc, '/api/v1/secrets', { labelSelector: `${CREDENTIAL_LABEL}=${credential}` });
  const at = Date.now();
  const index = new Map(server.issued.map((t, i) => [t.accessToken, i]));
  const held = new Map<string, number>();
  for (const secret of list.items) {
    const ns = secret.metadata?.namespace ?? '';
    if (secret.metadata?.name !== credential || !targets.has(ns)) continue;
    held.set(ns, index.get(publishedToken(secret) ?? '') ?? -1);
  }
  return { held, at };
}

export function publishedToken(secret: V1Secret): string | undefined {
  const raw = secret.data?.['.dockerconfigjson'];
  if (!raw) return undefined;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as { auths?: Record<string, { username?: string; password?: string }> };
    const entry = parsed.auths?.[GOOGLE_REGISTRY];
    return entry?.username === 'oauth2accesstoken' ? entry.password : undefined;
  } catch {
    return undefined;
  }
}

/** The oldest token any target holds (-1 when one holds none or an unknown one). */
function oldestHeld(s: Snapshot, targets: ReadonlySet<string>): number {
  let oldest = Number.POSITIVE_INFINITY;
  for (const ns of targets) oldest = Math.min(oldest, s.held.get(ns) ?? -1);
  return oldest;
}

/** Polls until every target holds a token issued at `from` or later; returns that snapshot. */
async function waitForAll(
  ctx: BenchContext,
  server: GoogleTokenServer,
  targets: ReadonlySet<string>,
  from: number,
  timeoutMs: number,
  what: string,
  credential = GOOGLE_CREDENTIAL,
): Promise<Snapshot> {
  return waitUntil(
    what,
    async () => {
      const s = await snapshot(ctx, server, targets, credential);
      return oldestHeld(s, targets) >= from ? s : undefined;
    },
    timeoutMs,
    POLL_INTERVAL_MS,
  );
}

/**
 * Scenario 6 and the provider half of scenario 4: a Google RegistryCredential over the same namespaces, with
 * the local stand-in for Google's token endpoint issuing tokens that live seconds instead of an hour. The
 * endpoint counts every token request (a counter the operator does not control) and records every token it
 * issued with its expiry; the benchmark reads the Secrets with list polls and matches what they hold against
 * that record. Per refresh: token requests (must be 1, whatever the number of namespaces), time from the
 * token being issued to every namespace holding it, and whether any Secret was seen holding an expired token.
 */
export async function providerRefresh(ctx: BenchContext, size: number): Promise<{ result: RefreshResult; google: GoogleSetup }> {
  // Every labelled namespace, the new-namespace scenario's included: the credential selects them all, and
  // every write it causes is counted.
  const labelled = await rawGet<{ items: V1Namespace[] }>(ctx.admin.kc, '/api/v1/namespaces', { labelSelector: `${TARGET_LABEL}=true` });
  const targets = new Set(labelled.items.filter((ns) => ns.status?.phase !== 'Terminating').map((ns) => ns.metadata!.name!));
  const lifetimeS = tokenLifetimeFor(targets.size, ctx.options.tokenLifetimeSeconds);
  const wanted = ctx.options.refreshes;
  const server = await startGoogleTokenServer({ lifetimeSeconds: lifetimeS });
  const key = generateServiceAccountKey();
  server.addServiceAccount(key.email, key.publicKeyPem);
  await createOpaqueSecret(ctx.admin.core, GOOGLE_SOURCE, { 'key.json': key.keyJson });
  const env = { REGCRED_GOOGLE_TOKEN_URL: server.url };
  const google: GoogleSetup = { server, env, cleanUp: () => removeGoogleCredential(ctx, server, env, size, { credential: GOOGLE_CREDENTIAL, source: GOOGLE_SOURCE }) };
  const result: RefreshResult = { targets: targets.size, tokenLifetimeS: lifetimeS, refreshesWanted: wanted, rollouts: [], timeoutMs: 0 };

  const operator = startOperator(ctx, `refresh-${size}`, 'info', [], env);
  try {
    await operator.cachesSynced(timeoutFor(60_000, 20, size));
    // First mint and fan-out: one token request for every namespace.
    const fanOutTimeout = timeoutFor(60_000, 60, size);
    const created = Date.now();
    await createCredential(ctx.admin.custom, GOOGLE_CREDENTIAL, {
      gcr: { registries: [GOOGLE_REGISTRY], credentialsSecretRef: { name: GOOGLE_SOURCE } },
      namespaces: { selector: { matchLabels: { [TARGET_LABEL]: 'true' } } },
      serviceAccounts: { names: ['default'] },
    });
    const first = await waitForAll(ctx, server, targets, 0, fanOutTimeout, `the first Google token in all ${targets.size} namespaces`);
    const accounts = await waitUntil(
      `every default ServiceAccount to list ${GOOGLE_CREDENTIAL}`,
      async () => {
        const list = await rawGet<{ items: V1ServiceAccount[] }>(ctx.admin.kc, '/api/v1/serviceaccounts', { fieldSelector: 'metadata.name=default' });
        const at = Date.now();
        const carrying = list.items.filter((sa) => targets.has(sa.metadata?.namespace ?? '') && carriesPullSecret(sa, GOOGLE_CREDENTIAL)).length;
        return carrying === targets.size ? at : undefined;
      },
      fanOutTimeout,
      POLL_INTERVAL_MS,
    );
    result.firstFanOutMs = Math.max(first.at, accounts) - created;
    result.firstFanOutTokenRequests = server.tokenRequests();
    progress(`size ${size}: Google credential in all ${targets.size} labelled namespaces after ${result.firstFanOutMs} ms; watching ${plural(wanted, 'refresh', 'refreshes')} of ${lifetimeS} s tokens`);
    // The last watched refresh already mints an hour-long token (the endpoint switches once the one before
    // it shows up), so the steady state that follows starts with nothing due and no extra wait.
    await observeRefreshes(ctx, server, targets, operator, first, result, () => {
      server.lifetimeSeconds = LONG_LIFETIME_SECONDS;
    });
    server.lifetimeSeconds = LONG_LIFETIME_SECONDS;
    let long = server.issued.findIndex((t) => t.expiresIn === LONG_LIFETIME_SECONDS);
    if (long < 0) {
      // The switch came too late for the last refresh: wait for the next one.
      long = server.issued.length;
      await waitForAll(ctx, server, targets, long, lifetimeS * 1000 + fanOutTimeout, 'a long-lived Google token in every namespace');
    } else {
      await waitForAll(ctx, server, targets, long, fanOutTimeout, 'a long-lived Google token in every namespace');
    }
    const longExpiry = server.issued[long]!.expiresAt.toISOString().slice(0, 19);
    await waitUntil(
      'the Google credential to report the long-lived token',
      async () => (((await credentialStatus(ctx.admin.custom, GOOGLE_CREDENTIAL))?.expiresAt ?? '') >= longExpiry ? true : undefined),
      30_000,
    );
  } catch (err) {
    result.error = errorMessage(err);
  } finally {
    await operator.stop();
  }
  return { result, google };
}

async function observeRefreshes(
  ctx: BenchContext,
  server: GoogleTokenServer,
  targets: ReadonlySet<string>,
  operator: OperatorProcess,
  first: Snapshot,
  result: RefreshResult,
  beforeLastRefresh: () => void,
): Promise<void> {
  const firstIndex = oldestHeld(first, targets);
  const lifetimeMs = result.tokenLifetimeS * 1000;
  result.timeoutMs = (result.refreshesWanted + 1) * lifetimeMs + timeoutFor(30_000, 40, targets.size);
  const requestsBefore = server.tokenRequests();
  const mark = auditMark(ctx.auditLog);
  const cpuBefore = operator.cpuSeconds();
  const started = Date.now();
  const published = new Set<number>();
  const completed = new Map<number, number>();
  let polls = 0;
  let longestExpiredMs = 0;
  let unknown = 0;
  while (completed.size < result.refreshesWanted) {
    if (Date.now() - started > result.timeoutMs) {
      result.error = `${completed.size} of ${result.refreshesWanted} refreshes reached every namespace within ${Math.round(result.timeoutMs / 1000)} s`;
      break;
    }
    const pollStarted = Date.now();
    let s: Snapshot;
    try {
      s = await snapshot(ctx, server, targets);
    } catch {
      await sleep(POLL_INTERVAL_MS);
      continue;
    }
    polls++;
    for (const ns of targets) {
      const held = s.held.get(ns) ?? -1;
      if (held < 0) {
        unknown++;
        continue;
      }
      if (held > firstIndex) published.add(held);
      longestExpiredMs = Math.max(longestExpiredMs, s.at - server.issued[held]!.expiresAt.getTime());
    }
    const oldest = oldestHeld(s, targets);
    for (const index of published) if (index <= oldest && !completed.has(index)) completed.set(index, s.at);
    if (published.size === result.refreshesWanted - 1) beforeLastRefresh();
    await sleep(Math.max(POLL_INTERVAL_MS, Date.now() - pollStarted));
  }
  // Read at the poll that showed the last wanted refresh everywhere: a second mint for any of them would be counted.
  result.tokenRequests = server.tokenRequests() - requestsBefore;
  result.refreshesPublished = published.size;
  result.callsPerRefresh = published.size > 0 ? result.tokenRequests / published.size : undefined;
  result.windowMs = Date.now() - started;
  result.polls = polls;
  result.meanPollPeriodMs = polls > 0 ? result.windowMs / polls : undefined;
  result.longestExpiredMs = Math.max(0, longestExpiredMs);
  result.unknownTokenSightings = unknown;
  result.cpuS = operator.cpuSeconds() - cpuBefore;
  result.writes = await writesSince(ctx, mark, OPERATOR_USER);
  result.rollouts = [...completed.entries()]
    .sort(([a], [b]) => a - b)
    .map(([index, at]): RefreshRollout => rollout(server.issued[index]!, server.issued[index - 1], at));
  result.rolloutP50Ms = median(result.rollouts.map((r) => r.issuedToEverywhereMs));
  result.rolloutMaxMs = result.rollouts.length ? Math.max(...result.rollouts.map((r) => r.issuedToEverywhereMs)) : undefined;
}

function rollout(token: IssuedToken, previous: IssuedToken | undefined, everywhereAt: number): RefreshRollout {
  return {
    issuedToEverywhereMs: everywhereAt - token.issuedAt.getTime(),
    // When the refresh happened within the previous token's life (the policy: about half of it).
    atFractionOfPreviousLifetime: previous ? (token.issuedAt.getTime() - previous.issuedAt.getTime()) / (previous.expiresAt.getTime() - previous.issuedAt.getTime()) : undefined,
  };
}

/** Deletes a Google RegistryCredential with an operator running (it removes its Secrets and entries), then its source and the endpoint. */
async function removeGoogleCredential(
  ctx: BenchContext,
  server: GoogleTokenServer,
  env: NodeJS.ProcessEnv,
  size: number,
  names: { credential: string; source: string },
): Promise<void> {
  const operator = startOperator(ctx, `${names.credential}-cleanup-${size}`, 'info', [], env);
  try {
    await operator.cachesSynced(timeoutFor(60_000, 20, size));
    await deleteCredential(ctx.admin.custom, names.credential);
    await waitUntil(
      `the Google RegistryCredential ${names.credential} and its Secrets to be gone`,
      async () => {
        if ((await credentialStatus(ctx.admin.custom, names.credential)) !== undefined) return undefined;
        const left = await rawGet<{ items: unknown[] }>(ctx.admin.kc, '/api/v1/secrets', { labelSelector: `${CREDENTIAL_LABEL}=${names.credential}` });
        return left.items.length === 0 ? true : undefined;
      },
      timeoutFor(60_000, 60, size),
      500,
    );
  } catch (err) {
    if (err instanceof TimeoutError) throw new Error(`cleaning up the Google credential ${names.credential}: ${err.message}`, { cause: err });
    throw err;
  } finally {
    await operator.stop();
    await server.close();
    await deleteOpaqueSecret(ctx.admin.core, names.source);
  }
}

/** The Google credential in the long-running operator's workload (bench/main.ts), over this many target namespaces. */
export const WORKLOAD_GOOGLE_CREDENTIAL = 'bench-gcr-workload';
const WORKLOAD_GOOGLE_SOURCE = 'bench-gcp-key-workload';
export const WORKLOAD_GOOGLE_NAMESPACES = 50;

/**
 * The workload's provider refresh: a token endpoint of its own, started before the fan-out's operator so that
 * its URL is in the environment of every operator started at the size (ctx.sizeEnv), and taken down with
 * `cleanUp` once the memory scenario's fresh operators have run over the state it leaves.
 */
export interface WorkloadGoogle {
  /** With the long-running operator running: it is the one that mints and publishes. */
  refresh(targets: readonly string[]): Promise<WorkloadRefreshResult>;
  cleanUp(): Promise<void>;
}

export async function startWorkloadGoogle(ctx: BenchContext, size: number): Promise<WorkloadGoogle> {
  const server = await startGoogleTokenServer({ lifetimeSeconds: tokenLifetimeFor(WORKLOAD_GOOGLE_NAMESPACES, ctx.options.tokenLifetimeSeconds) });
  const key = generateServiceAccountKey();
  server.addServiceAccount(key.email, key.publicKeyPem);
  try {
    await createOpaqueSecret(ctx.admin.core, WORKLOAD_GOOGLE_SOURCE, { 'key.json': key.keyJson });
  } catch (err) {
    await server.close();
    throw err;
  }
  const env = { REGCRED_GOOGLE_TOKEN_URL: server.url };
  ctx.sizeEnv = { ...ctx.sizeEnv, ...env };
  let removed = false;
  return {
    refresh: (targets) => workloadRefresh(ctx, server, targets.slice(0, WORKLOAD_GOOGLE_NAMESPACES)),
    async cleanUp() {
      if (removed) return;
      removed = true;
      try {
        await removeGoogleCredential(ctx, server, env, size, { credential: WORKLOAD_GOOGLE_CREDENTIAL, source: WORKLOAD_GOOGLE_SOURCE });
      } finally {
        delete ctx.sizeEnv.REGCRED_GOOGLE_TOKEN_URL;
      }
    },
  };
}

/**
 * In the long-running operator: a Google credential over a few target namespaces (and their default
 * ServiceAccounts), its first token short-lived, then one refresh. The endpoint hands out hour-long tokens
 * once the first is everywhere, so the refresh leaves a token that is not due for the rest of the size: the
 * operators the later scenarios start over this state (the fresh ones the memory scenario compares with
 * included) find it valid and mint nothing. A token endpoint other scenarios set for their own Google
 * credential (refresh, failover) takes the place of this one in their operators' environment; it is never
 * asked for this credential's token, which is not due.
 */
async function workloadRefresh(ctx: BenchContext, server: GoogleTokenServer, namespaces: readonly string[]): Promise<WorkloadRefreshResult> {
  const targets = new Set(namespaces);
  const lifetimeS = server.lifetimeSeconds;
  const result: WorkloadRefreshResult = { credential: WORKLOAD_GOOGLE_CREDENTIAL, namespaces: targets.size, tokenLifetimeS: lifetimeS, tokenRequests: 0 };
  const requestsBefore = server.tokenRequests();
  const timeoutMs = timeoutFor(60_000, 60, targets.size);
  try {
    const created = Date.now();
    await createCredential(ctx.admin.custom, WORKLOAD_GOOGLE_CREDENTIAL, {
      gcr: { registries: [GOOGLE_REGISTRY], credentialsSecretRef: { name: WORKLOAD_GOOGLE_SOURCE } },
      namespaces: { names: [...targets] },
      serviceAccounts: { names: ['default'] },
    });
    const first = await waitForAll(ctx, server, targets, 0, timeoutMs, `the first Google token in the workload's ${targets.size} namespaces`, WORKLOAD_GOOGLE_CREDENTIAL);
    result.firstMs = first.at - created;
    // Every token from here on lives an hour: the refresh of the first one is the last one due at this size.
    server.lifetimeSeconds = LONG_LIFETIME_SECONDS;
    const refreshed = server.issued.length;
    const everywhere = await waitForAll(
      ctx,
      server,
      targets,
      refreshed,
      lifetimeS * 1000 + timeoutMs,
      `the refreshed Google token in the workload's ${targets.size} namespaces`,
      WORKLOAD_GOOGLE_CREDENTIAL,
    );
    const token = server.issued[refreshed]!;
    result.refreshAtFractionOfLifetime = (token.issuedAt.getTime() - server.issued[refreshed - 1]!.issuedAt.getTime()) / (lifetimeS * 1000);
    result.refreshIssuedToEverywhereMs = everywhere.at - token.issuedAt.getTime();
    const longExpiry = token.expiresAt.toISOString().slice(0, 19);
    await waitUntil(
      `${WORKLOAD_GOOGLE_CREDENTIAL} to report the refreshed token's expiry`,
      async () => (((await credentialStatus(ctx.admin.custom, WORKLOAD_GOOGLE_CREDENTIAL))?.expiresAt ?? '') >= longExpiry ? true : undefined),
      30_000,
    );
  } catch (err) {
    result.error = errorMessage(err);
  }
  result.tokenRequests = server.tokenRequests() - requestsBefore;
  return result;
}
