import {
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  PatchStrategy,
  setHeaderOptions,
  Watch,
  type V1Secret,
  type V1ServiceAccount,
} from '@kubernetes/client-node';
import { request, type RequestOptions } from 'node:https';
import pLimit from 'p-limit';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.js';
import { connect, loadKubeConfig } from '../../src/kube/connection.js';
import type { RegistryCredentialSpec } from '../../src/api/types.js';
import { sleep, waitUntil } from './util.js';

export const OPERATOR_CONTEXT = 'regcred-operator';
export const OPERATOR_NAMESPACE = 'regcred-system';
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:regcred-operator`;
/** Every benchmark namespace that a RegistryCredential should target carries this label. */
export const TARGET_LABEL = 'regcred-bench/target';
export const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);

export interface Clients {
  kc: KubeConfig;
  core: CoreV1Api;
  custom: CustomObjectsApi;
}

/**
 * API clients with pooled, kept-alive connections, the operator's own (src/kube/connection.ts): the floor
 * client gets the same connection reuse as the operator, so the ratio compares the work, not the transport.
 */
export function clients(kubeconfig: string, context?: string): Clients {
  const conn = connect(loadKubeConfig({ kubeconfig, context }));
  return { kc: conn.kubeConfig, core: conn.core, custom: conn.custom };
}

export function statusCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

export function namespaceName(i: number): string {
  return `bench-${String(i).padStart(5, '0')}`;
}

/** Runs `task` over `items` with at most `concurrency` in flight; rejects on the first failure. */
export async function forEachLimited<T>(items: readonly T[], concurrency: number, task: (item: T) => Promise<unknown>): Promise<void> {
  const limit = pLimit(concurrency);
  await Promise.all(items.map((item) => limit(() => task(item))));
}

/** Creates the namespaces that do not exist yet (409 is fine: a rerun converges). */
export async function createNamespaces(core: CoreV1Api, names: readonly string[], labels: Record<string, string>): Promise<void> {
  await forEachLimited(names, 16, async (name) => {
    try {
      await core.createNamespace({ body: { metadata: { name, labels } } });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
    }
  });
}

/** The namespaces (of those given) whose default ServiceAccount exists: one list call with a field selector. */
export async function namespacesWithDefaultServiceAccount(core: CoreV1Api, names: ReadonlySet<string>): Promise<Set<string>> {
  const list = await core.listServiceAccountForAllNamespaces({ fieldSelector: 'metadata.name=default' });
  return new Set(list.items.map((sa) => sa.metadata?.namespace ?? '').filter((ns) => names.has(ns)));
}

/** Waits until the controller manager has created the default ServiceAccount in every namespace given. */
export async function waitForDefaultServiceAccounts(core: CoreV1Api, names: ReadonlySet<string>, timeoutMs: number): Promise<void> {
  await waitUntil(
    `the default ServiceAccount in ${names.size} namespaces`,
    async () => ((await namespacesWithDefaultServiceAccount(core, names)).size === names.size ? true : undefined),
    timeoutMs,
    500,
  );
}

/** Deletes these namespaces (one already gone is fine) and waits until the namespace controller has finished each. */
export async function deleteNamespacesAndWait(core: CoreV1Api, names: readonly string[], timeoutMs = 180_000): Promise<void> {
  for (const name of names) {
    try {
      await core.deleteNamespace({ name });
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
  }
  await waitForNamespacesGone(core, names, timeoutMs);
}

export async function waitForNamespacesGone(core: CoreV1Api, names: readonly string[], timeoutMs: number): Promise<void> {
  if (names.length === 0) return;
  const wanted = new Set(names);
  await waitUntil(
    `${names.length} namespaces to finish deleting`,
    async () => {
      const list = await core.listNamespace();
      return list.items.some((ns) => wanted.has(ns.metadata?.name ?? '')) ? undefined : true;
    },
    timeoutMs,
    1000,
  );
}

export interface PullCredential {
  registry: string;
  username: string;
  password: string;
}

export function dockerConfigJson(cred: PullCredential): string {
  const auth = Buffer.from(`${cred.username}:${cred.password}`).toString('base64');
  return JSON.stringify({ auths: { [cred.registry]: { username: cred.username, password: cred.password, auth } } });
}

/** Whether a Secret holds exactly this credential for its registry, in the dockerconfigjson form a kubelet reads. */
export function holdsCredential(secret: V1Secret, cred: PullCredential): boolean {
  if (secret.type !== 'kubernetes.io/dockerconfigjson') return false;
  const raw = secret.data?.['.dockerconfigjson'];
  if (!raw) return false;
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as {
      auths?: Record<string, { username?: string; password?: string; auth?: string }>;
    };
    const entry = parsed.auths?.[cred.registry];
    return (
      entry?.username === cred.username &&
      entry.password === cred.password &&
      entry.auth === Buffer.from(`${cred.username}:${cred.password}`).toString('base64')
    );
  } catch {
    return false;
  }
}

export function carriesPullSecret(sa: V1ServiceAccount, secretName: string): boolean {
  return (sa.imagePullSecrets ?? []).some((ref) => ref.name === secretName);
}

/**
 * A GET parsed with JSON.parse, without client-node's model deserializer: the
 * convergence polls list thousands of objects several times a second, and the
 * benchmark's own CPU use competes with what it measures.
 */
export async function rawGet<T>(kc: KubeConfig, path: string, query: Record<string, string | undefined> = {}): Promise<T> {
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('the kubeconfig has no current cluster');
  const url = new URL(path, server);
  for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, v);
  const options: RequestOptions = {
    method: 'GET',
    hostname: url.hostname,
    port: url.port,
    path: `${url.pathname}${url.search}`,
    headers: { Accept: 'application/json' },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise<T>((resolve, reject) => {
    const req = request(options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) reject(new Error(`GET ${url.pathname}: HTTP ${res.statusCode}: ${body.slice(0, 200)}`));
        else resolve(JSON.parse(body) as T);
      });
      res.on('error', reject);
    });
    req.setTimeout(60_000, () => req.destroy(new Error(`GET ${url.pathname} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface FanOutState {
  /** Target namespaces whose Secret holds the expected credential. */
  secrets: number;
  /** Target namespaces whose default ServiceAccount lists the Secret. */
  accounts: number;
  /** Target namespaces where both hold. */
  complete: number;
  /** When the list responses came back. */
  at: number;
}

/**
 * The end state over all target namespaces, read with two list calls: the
 * Secrets (by label or field selector) and the default ServiceAccounts (by
 * field selector). Never one get per namespace.
 */
export async function fanOutState(
  kc: KubeConfig,
  targets: ReadonlySet<string>,
  secretName: string,
  secretSelector: { labelSelector?: string; fieldSelector?: string },
  cred: PullCredential,
): Promise<FanOutState> {
  const [secrets, accounts] = await Promise.all([
    rawGet<{ items: V1Secret[] }>(kc, '/api/v1/secrets', secretSelector),
    rawGet<{ items: V1ServiceAccount[] }>(kc, '/api/v1/serviceaccounts', { fieldSelector: 'metadata.name=default' }),
  ]);
  const at = Date.now();
  const secretOk = new Set(
    secrets.items
      .filter((s) => s.metadata?.name === secretName && targets.has(s.metadata.namespace ?? '') && holdsCredential(s, cred))
      .map((s) => s.metadata!.namespace!),
  );
  const accountOk = new Set(
    accounts.items.filter((sa) => targets.has(sa.metadata?.namespace ?? '') && carriesPullSecret(sa, secretName)).map((sa) => sa.metadata!.namespace!),
  );
  let complete = 0;
  for (const ns of secretOk) if (accountOk.has(ns)) complete++;
  return { secrets: secretOk.size, accounts: accountOk.size, complete, at };
}

/**
 * A watch that survives the server closing it: restarted from the last
 * resourceVersion seen, at most `maxRestarts` times.
 */
export class ResumingWatch<T extends { metadata?: { resourceVersion?: string } }> {
  private controller?: AbortController;
  private stopped = false;
  private restarts = 0;
  private resourceVersion: string;

  constructor(
    private readonly kc: KubeConfig,
    private readonly path: string,
    private readonly params: Record<string, string>,
    resourceVersion: string,
    private readonly onEvent: (phase: string, obj: T) => void,
    private readonly maxRestarts = 20,
  ) {
    this.resourceVersion = resourceVersion;
  }

  async start(): Promise<void> {
    if (this.stopped) return;
    this.controller = await new Watch(this.kc).watch(
      this.path,
      { ...this.params, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (phase: string, obj: T) => {
        const rv = obj.metadata?.resourceVersion;
        if (rv) this.resourceVersion = rv;
        if (phase !== 'BOOKMARK') this.onEvent(phase, obj);
      },
      () => {
        if (this.stopped || this.restarts >= this.maxRestarts) return;
        this.restarts++;
        setTimeout(() => void this.start().catch(() => undefined), 200);
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.controller?.abort();
  }
}

/**
 * The same end state as fanOutState, followed with two watches instead of list polls: one list of each to
 * start from, then the Secrets (by selector) and the default ServiceAccounts as they change. At 20,000
 * namespaces a list poll reads 40,000 objects every couple of seconds, which loads the API server and this
 * process as much as the operator being measured; the watches cost one event per write. The figure is
 * taken when the event that completed the end state arrived.
 */
const noop = (): void => undefined;

export async function watchFanOut(
  kc: KubeConfig,
  targets: ReadonlySet<string>,
  secretName: string,
  secretSelector: { labelSelector?: string; fieldSelector?: string },
  cred: PullCredential,
  started: number,
  timeoutMs: number,
  /** Stop waiting when this settles (the writer being watched failed): the outcome is then incomplete. */
  giveUp?: Promise<unknown>,
): Promise<PollOutcome> {
  const accountSelector = { fieldSelector: 'metadata.name=default' };
  const [secrets, accounts] = await Promise.all([
    rawGet<{ metadata?: { resourceVersion?: string }; items: V1Secret[] }>(kc, '/api/v1/secrets', secretSelector),
    rawGet<{ metadata?: { resourceVersion?: string }; items: V1ServiceAccount[] }>(kc, '/api/v1/serviceaccounts', accountSelector),
  ]);
  const secretOk = new Set<string>();
  const accountOk = new Set<string>();
  const outcome: PollOutcome = { polls: 0, events: 0 };
  let settle: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (settle = resolve));
  const check = (): void => {
    let complete = 0;
    for (const ns of secretOk) if (accountOk.has(ns)) complete++;
    const at = Date.now();
    outcome.last = { secrets: secretOk.size, accounts: accountOk.size, complete, at };
    if (outcome.secretsMs === undefined && secretOk.size === targets.size) outcome.secretsMs = at - started;
    if (complete === targets.size && outcome.ms === undefined) {
      outcome.ms = at - started;
      settle();
    }
  };
  const onSecret = (phase: string, secret: V1Secret): void => {
    const ns = secret.metadata?.namespace ?? '';
    if (!targets.has(ns) || secret.metadata?.name !== secretName) return;
    if (phase !== 'DELETED' && holdsCredential(secret, cred)) secretOk.add(ns);
    else secretOk.delete(ns);
  };
  const onAccount = (phase: string, sa: V1ServiceAccount): void => {
    const ns = sa.metadata?.namespace ?? '';
    if (!targets.has(ns)) return;
    if (phase !== 'DELETED' && carriesPullSecret(sa, secretName)) accountOk.add(ns);
    else accountOk.delete(ns);
  };
  for (const secret of secrets.items) onSecret('ADDED', secret);
  for (const sa of accounts.items) onAccount('ADDED', sa);
  const event =
    <T>(apply: (phase: string, obj: T) => void) =>
    (phase: string, obj: T): void => {
      outcome.events = (outcome.events ?? 0) + 1;
      apply(phase, obj);
      check();
    };
  const watches = [
    new ResumingWatch<V1Secret>(kc, '/api/v1/secrets', secretSelector, secrets.metadata?.resourceVersion ?? '0', event(onSecret)),
    new ResumingWatch<V1ServiceAccount>(kc, '/api/v1/serviceaccounts', accountSelector, accounts.metadata?.resourceVersion ?? '0', event(onAccount)),
  ];
  try {
    await Promise.all(watches.map((w) => w.start()));
    check();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      done,
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, started + timeoutMs - Date.now())))),
      ...(giveUp ? [giveUp.then(noop, noop)] : []),
    ]);
    clearTimeout(timer);
  } finally {
    for (const w of watches) w.stop();
  }
  return outcome;
}

export interface PollOutcome {
  /** Mean time from one poll's start to the next one's. */
  meanPeriodMs?: number;
  /** From `started` to the first list that showed the whole end state; undefined when it did not converge. */
  ms?: number;
  /** From `started` to the first list that showed every Secret (ServiceAccounts aside). */
  secretsMs?: number;
  last?: FanOutState;
  polls: number;
  /** Watch events seen (watchFanOut), instead of list polls. */
  events?: number;
}

/**
 * Polls fanOutState until every target holds, or the timeout passes. Between
 * polls it waits the interval, or as long as the last poll took if that was
 * longer; the figure is taken when the response that showed convergence arrived.
 */
export async function pollFanOut(
  read: () => Promise<FanOutState>,
  targets: number,
  started: number,
  timeoutMs: number,
  intervalMs: number,
  checkSecretsOnly = false,
): Promise<PollOutcome> {
  const outcome: PollOutcome = { polls: 0 };
  const deadline = started + timeoutMs;
  const firstPoll = Date.now();
  while (Date.now() < deadline) {
    let state: FanOutState;
    const pollStarted = Date.now();
    try {
      state = await read();
    } catch {
      await sleep(intervalMs);
      continue;
    }
    outcome.polls++;
    outcome.meanPeriodMs = (Date.now() - firstPoll) / outcome.polls;
    outcome.last = state;
    if (outcome.secretsMs === undefined && state.secrets === targets) outcome.secretsMs = state.at - started;
    if (checkSecretsOnly ? state.secrets === targets : state.complete === targets) {
      outcome.ms = state.at - started;
      return outcome;
    }
    // At least as long as the poll itself took: at most half the time is spent polling.
    await sleep(Math.max(intervalMs, Date.now() - pollStarted));
  }
  return outcome;
}

// ---- RegistryCredential and its source Secret ----

/** A Secret in the operator's namespace (a credential source); an existing one is replaced. */
export async function createOpaqueSecret(core: CoreV1Api, name: string, stringData: Record<string, string>): Promise<void> {
  try {
    await core.createNamespacedSecret({ namespace: OPERATOR_NAMESPACE, body: { metadata: { name }, type: 'Opaque', stringData } });
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
    await replaceOpaqueSecret(core, name, stringData);
  }
}

export async function replaceOpaqueSecret(core: CoreV1Api, name: string, stringData: Record<string, string>): Promise<void> {
  const current = await core.readNamespacedSecret({ name, namespace: OPERATOR_NAMESPACE });
  await core.replaceNamespacedSecret({
    name,
    namespace: OPERATOR_NAMESPACE,
    body: { metadata: { name, resourceVersion: current.metadata?.resourceVersion }, type: 'Opaque', stringData },
  });
}

export async function deleteOpaqueSecret(core: CoreV1Api, name: string): Promise<void> {
  try {
    await core.deleteNamespacedSecret({ name, namespace: OPERATOR_NAMESPACE });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

export async function createCredential(custom: CustomObjectsApi, name: string, spec: RegistryCredentialSpec): Promise<void> {
  await custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RegistryCredential', metadata: { name }, spec },
  });
}

export interface CredentialStatusView {
  targetNamespaces?: number;
  syncedNamespaces?: number;
  patchedServiceAccounts?: number;
  expiresAt?: string;
  conditions?: { type: string; status: string; reason: string }[];
}

export async function credentialStatus(custom: CustomObjectsApi, name: string): Promise<CredentialStatusView | undefined> {
  try {
    const obj = (await custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as { status?: CredentialStatusView };
    return obj.status ?? {};
  } catch (err) {
    if (statusCode(err) === 404) return undefined;
    throw err;
  }
}

export async function deleteCredential(custom: CustomObjectsApi, name: string): Promise<void> {
  try {
    await custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}
