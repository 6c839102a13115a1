import type { V1Secret } from '@kubernetes/client-node';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { generateServiceAccountKey, startGoogleTokenServer, type GoogleTokenServer } from '../../test/support/google-token-server.js';
import { CREDENTIAL_NAME, startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import {
  createCredential,
  createOpaqueSecret,
  credentialStatus,
  deleteCredential,
  deleteOpaqueSecret,
  holdsCredential,
  namespaceName,
  rawGet,
  statusCode,
  TARGET_LABEL,
  deleteNamespacesAndWait,
} from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { FailoverResult, FailoverTakeover } from '../lib/results.js';
import { errorMessage, progress, sleep, waitUntil } from '../lib/util.js';
import { GOOGLE_REGISTRY, publishedToken } from './refresh.js';

/** The operator's defaults (src/config.ts), passed explicitly so that the report states what was measured. */
export const FAILOVER_TIMING = { leaseDurationS: 15, renewDeadlineS: 10, retryPeriodS: 2 } as const;
/** Google tokens for the provider-call count: the operator refreshes at about half of this. */
const TOKEN_LIFETIME_S = 12;
const GOOGLE_CREDENTIAL = 'bench-failover-gcr';
const GOOGLE_SOURCE = 'bench-failover-gcp-key';
/** How often the benchmark reads the new namespace's Secret. */
const SECRET_POLL_MS = 50;

/** client-go's nominal takeover bounds (not measured): a release is seen at the next look; an expired lease a look after it expires. */
export function failoverBoundMs(signal: 'SIGTERM' | 'SIGKILL', t: { leaseDurationS: number; retryPeriodS: number } = FAILOVER_TIMING): number {
  return (signal === 'SIGTERM' ? t.retryPeriodS : t.leaseDurationS + t.retryPeriodS) * 1000;
}

export function failoverNamespaceName(size: number, signal: 'SIGTERM' | 'SIGKILL'): string {
  return `bench-failover-${size}-${signal === 'SIGTERM' ? 'term' : 'kill'}`;
}

interface Replica {
  proc: OperatorProcess;
  /** holderIdentity: POD_NAME, "_", a random suffix. */
  identity: string;
}

async function startReplica(ctx: BenchContext, name: string, env: NodeJS.ProcessEnv, size: number): Promise<Replica> {
  const t = FAILOVER_TIMING;
  const proc = startOperator(
    ctx,
    name,
    'info',
    [
      '--leader-elect',
      '--leader-elect-lease-duration-seconds',
      String(t.leaseDurationS),
      '--leader-elect-renew-deadline-seconds',
      String(t.renewDeadlineS),
      '--leader-elect-retry-period-seconds',
      String(t.retryPeriodS),
    ],
    { POD_NAME: name, ...env },
  );
  const waiting = await proc.waitForLog((l) => l.msg === 'waiting to become leader', 30_000, '"waiting to become leader"');
  await proc.cachesSynced(timeoutFor(60_000, 20, size));
  return { proc, identity: String(waiting.line.identity) };
}

function becameLeader(r: Replica, timeoutMs: number): Promise<number> {
  return r.proc.waitForLog((l) => l.msg === 'became leader', timeoutMs, '"became leader"').then((seen) => seen.at);
}

/** Polls one namespace's Secret until it holds the credential; returns when the response that showed it came back. */
async function secretHolds(ctx: BenchContext, namespace: string, timeoutMs: number): Promise<number> {
  return waitUntil(
    `the pull Secret in ${namespace}`,
    async () => {
      let secret: V1Secret;
      try {
        secret = await ctx.admin.core.readNamespacedSecret({ namespace, name: CREDENTIAL_NAME });
      } catch (err) {
        if (statusCode(err) === 404) return undefined;
        throw err;
      }
      return holdsCredential(secret, ctx.credential) ? Date.now() : undefined;
    },
    timeoutMs,
    SECRET_POLL_MS,
  );
}

/**
 * Signals the leader, creates a labelled namespace right after, and times the follower's takeover and the
 * new namespace's Secret (whichever replica writes it).
 */
async function takeover(ctx: BenchContext, size: number, leader: Replica, follower: Replica, signal: 'SIGTERM' | 'SIGKILL'): Promise<FailoverTakeover> {
  const boundMs = failoverBoundMs(signal);
  const timeoutMs = boundMs * 2 + 30_000;
  const result: FailoverTakeover = { signal, boundMs, timeoutMs };
  const namespace = failoverNamespaceName(size, signal);
  const sentAt = Date.now();
  leader.proc.child.kill(signal);
  await ctx.admin.core.createNamespace({ body: { metadata: { name: namespace, labels: { [TARGET_LABEL]: 'true' } } } });
  const [leaderAt, secretAt] = await Promise.all([becameLeader(follower, timeoutMs), secretHolds(ctx, namespace, timeoutMs)]);
  result.becameLeaderMs = leaderAt - sentAt;
  result.newNamespaceSecretMs = secretAt - sentAt;
  result.becameLeaderOverBound = result.becameLeaderMs / boundMs;
  result.newNamespaceOverBound = result.newNamespaceSecretMs / boundMs;
  const exitCode = await leader.proc.exited;
  if (signal === 'SIGTERM') {
    result.exitCode = exitCode;
    const released = leader.proc.lines.find((l) => l.line.msg === 'released the lease');
    if (released) result.releasedMs = released.at - sentAt;
  }
  return result;
}

/** Both replicas running, a Google credential over one namespace: token requests per refresh published. */
async function providerCalls(ctx: BenchContext, server: GoogleTokenServer, keyJson: string): Promise<NonNullable<FailoverResult['provider']>> {
  const namespace = namespaceName(0);
  const wanted = ctx.options.refreshes;
  const out: NonNullable<FailoverResult['provider']> = { tokenLifetimeS: TOKEN_LIFETIME_S, refreshes: 0, tokenRequests: 0 };
  await createOpaqueSecret(ctx.admin.core, GOOGLE_SOURCE, { 'key.json': keyJson });
  await createCredential(ctx.admin.custom, GOOGLE_CREDENTIAL, {
    gcr: { registries: [GOOGLE_REGISTRY], credentialsSecretRef: { name: GOOGLE_SOURCE } },
    namespaces: { names: [namespace] },
  });
  const token = async (): Promise<string | undefined> => {
    try {
      return publishedToken(await ctx.admin.core.readNamespacedSecret({ namespace, name: GOOGLE_CREDENTIAL }));
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  };
  const first = await waitUntil('the first Google token', token, 60_000, 200);
  const before = server.tokenRequests();
  const seen = new Set([first]);
  const deadline = Date.now() + (wanted + 2) * TOKEN_LIFETIME_S * 1000;
  try {
    for (;;) {
      const held = await token();
      if (held) seen.add(held);
      const newest = server.issued.at(-1)?.accessToken;
      // Counted when the newest token issued is the one published: a second mint for it would be counted.
      if (seen.size - 1 >= wanted && held === newest) break;
      if (Date.now() > deadline) throw new Error(`${seen.size - 1} of ${wanted} refreshes seen within ${Math.round((wanted + 2) * TOKEN_LIFETIME_S)} s`);
      await sleep(200);
    }
  } catch (err) {
    out.error = errorMessage(err);
  }
  out.tokenRequests = server.tokenRequests() - before;
  out.refreshes = seen.size - 1;
  out.callsPerRefresh = out.refreshes > 0 ? out.tokenRequests / out.refreshes : undefined;
  return out;
}

async function removeGoogleCredential(ctx: BenchContext): Promise<void> {
  await deleteCredential(ctx.admin.custom, GOOGLE_CREDENTIAL);
  await waitUntil(
    'the failover Google credential and its Secret to be gone',
    async () => {
      if ((await credentialStatus(ctx.admin.custom, GOOGLE_CREDENTIAL)) !== undefined) return undefined;
      const left = await rawGet<{ items: unknown[] }>(ctx.admin.kc, '/api/v1/secrets', { labelSelector: `${CREDENTIAL_LABEL}=${GOOGLE_CREDENTIAL}` });
      return left.items.length === 0 ? true : undefined;
    },
    60_000,
    250,
  );
  await deleteOpaqueSecret(ctx.admin.core, GOOGLE_SOURCE);
}

/**
 * Scenario 7: two replicas with --leader-elect over the converged state (the static credential over every
 * target). With both running, provider calls per refresh; then the leader gets SIGTERM, a labelled namespace
 * is created right after, and the time to the follower's "became leader" and to that namespace's Secret is
 * taken; then a third replica joins as follower and the new leader gets SIGKILL, timed the same way.
 */
export async function failover(ctx: BenchContext, size: number): Promise<FailoverResult> {
  const t = FAILOVER_TIMING;
  const result: FailoverResult = { replicas: 2, ...t, targets: size };
  const server = await startGoogleTokenServer({ lifetimeSeconds: TOKEN_LIFETIME_S });
  const key = generateServiceAccountKey();
  server.addServiceAccount(key.email, key.publicKeyPem);
  const env = { REGCRED_GOOGLE_TOKEN_URL: server.url };
  const replicas: Replica[] = [];
  let googleCreated = false;
  try {
    const a = await startReplica(ctx, `bench-failover-a-${size}`, env, size);
    replicas.push(a);
    await becameLeader(a, 30_000);
    const b = await startReplica(ctx, `bench-failover-b-${size}`, env, size);
    replicas.push(b);
    await b.proc.waitForLog((l) => l.msg === `leader is ${a.identity}`, 30_000, `"leader is ${a.identity}"`);

    progress(`size ${size}: failover: provider calls per refresh with 2 replicas (${TOKEN_LIFETIME_S} s Google tokens)`);
    googleCreated = true;
    result.provider = await providerCalls(ctx, server, key.keyJson);
    await removeGoogleCredential(ctx);
    googleCreated = false;

    progress(`size ${size}: failover: SIGTERM to the leader`);
    result.sigterm = await takeover(ctx, size, a, b, 'SIGTERM');
    const c = await startReplica(ctx, `bench-failover-c-${size}`, env, size);
    replicas.push(c);
    await c.proc.waitForLog((l) => l.msg === `leader is ${b.identity}`, 30_000, `"leader is ${b.identity}"`);
    progress(`size ${size}: failover: SIGKILL to the leader`);
    result.sigkill = await takeover(ctx, size, b, c, 'SIGKILL');
  } catch (err) {
    result.error = errorMessage(err);
  } finally {
    // The Google credential's finalizer needs a leader: remove it before the replicas stop.
    if (googleCreated) await removeGoogleCredential(ctx).catch((err: unknown) => (result.error ??= errorMessage(err)));
    // Followers first, the leader last (it releases the Lease).
    const leading = (r: Replica): boolean => r.proc.count('became leader') > 0;
    for (const r of [...replicas.filter((r) => !leading(r)), ...replicas.filter(leading)]) await r.proc.stop();
    await server.close();
  }
  // The namespaces the takeovers added: the later scenarios count every labelled namespace.
  const added = [failoverNamespaceName(size, 'SIGTERM'), failoverNamespaceName(size, 'SIGKILL')];
  await deleteNamespacesAndWait(ctx.admin.core, added);
  return result;
}
