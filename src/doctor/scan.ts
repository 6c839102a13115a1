/**
 * The API-reading layer of `regcred doctor`: everything it reads, read once, into a DoctorSnapshot that
 * src/doctor/explain.ts turns into a report. Reads only: pods, Events, ServiceAccounts, namespaces,
 * RegistryCredentials, and the pull Secrets the pods name or the credentials publish. Of a Secret only the
 * metadata and the auths KEYS of its docker config are kept; the data is dropped here, before anything
 * else sees it, and never printed or logged.
 */
import type { CoreV1Event, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import pLimit from 'p-limit';
import { GROUP, PLURAL, VERSION } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import type { NamespaceView } from '../desired/namespaces.js';
import { call, isKind, type KubeApiError } from '../kube/errors.js';
import type { KubeConnection } from '../kube/connection.js';
import { parseImageReference } from '../registry/reference.js';
import { coveringCredentials, failingContainers } from './explain.js';
import type { DoctorSnapshot, PullSecretSummary, Scope } from './types.js';

const READ_CONCURRENCY = 8;

/** Reads `.dockerconfigjson` (auths keys) or `.dockercfg` (top-level keys); returns the keys only. */
export function summarizeSecret(secret: V1Secret): PullSecretSummary {
  const namespace = secret.metadata?.namespace ?? '';
  const name = secret.metadata?.name ?? '';
  const base = { namespace, name, ...(secret.type ? { type: secret.type } : {}), labels: secret.metadata?.labels ?? {}, annotations: secret.metadata?.annotations ?? {} };
  const json = secret.data?.['.dockerconfigjson'];
  const legacy = secret.data?.['.dockercfg'];
  const raw = json ?? legacy;
  if (raw === undefined) return { ...base, authKeys: [], unreadable: 'it has neither .dockerconfigjson nor .dockercfg' };
  try {
    const parsed = JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as unknown;
    const auths = json !== undefined ? (parsed as { auths?: unknown } | null)?.auths : parsed;
    if (!auths || typeof auths !== 'object' || Array.isArray(auths)) return { ...base, authKeys: [], unreadable: 'its docker config has no auths object' };
    return { ...base, authKeys: Object.keys(auths) };
  } catch {
    // Not even the parser's message: it could quote the data.
    return { ...base, authKeys: [], unreadable: 'its docker config is not valid JSON' };
  }
}

function describeError(err: unknown): string {
  return (err as KubeApiError).message ?? String(err);
}

export async function scan(conn: KubeConnection, scope: Scope, now: () => Date = () => new Date()): Promise<DoctorSnapshot> {
  const warnings: string[] = [];
  const warn = (message: string): void => {
    if (!warnings.includes(message)) warnings.push(message);
  };
  const limit = pLimit(READ_CONCURRENCY);

  const pods = await readPods(conn, scope);
  const [credentials, namespaces] = await Promise.all([
    call('list registrycredentials', () => conn.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL })).then(
      (list) => (list as { items: RegistryCredential[] }).items,
      (err: unknown) => {
        warn(`cannot list RegistryCredentials (${describeError(err)}); doctor cannot say which one covers a registry`);
        return [] as RegistryCredential[];
      },
    ),
    call('list namespaces', () => conn.core.listNamespace()).then(
      (list): NamespaceView[] =>
        list.items.map((ns) => ({
          name: ns.metadata?.name ?? '',
          labels: ns.metadata?.labels ?? {},
          terminating: Boolean(ns.metadata?.deletionTimestamp) || ns.status?.phase === 'Terminating',
        })),
      (err: unknown) => {
        warn(`cannot list namespaces (${describeError(err)}); doctor cannot say whether a namespace is targeted`);
        return undefined;
      },
    ),
  ]);

  const failing = pods.filter((pod) => failingContainers(pod).length > 0);
  const secretsWanted = new Set<string>();
  const accountsWanted = new Set<string>();
  for (const pod of pods) {
    const ns = pod.metadata?.namespace ?? '';
    for (const ref of pod.spec?.imagePullSecrets ?? []) if (ref.name) secretsWanted.add(`${ns}/${ref.name}`);
  }
  for (const pod of failing) {
    const ns = pod.metadata?.namespace ?? '';
    accountsWanted.add(`${ns}/${pod.spec?.serviceAccountName ?? 'default'}`);
    for (const container of failingContainers(pod)) {
      const parsed = parseImageReference(container.image);
      if (!parsed.ok) continue;
      for (const credential of coveringCredentials(parsed.value, credentials)) {
        secretsWanted.add(`${ns}/${credential.spec.secretName ?? credential.metadata.name}`);
      }
    }
  }

  const events = await readEvents(conn, scope, failing, warn);

  const secrets = new Map<string, PullSecretSummary | null>();
  const serviceAccounts = new Map<string, V1ServiceAccount | null>();
  await Promise.all([
    ...[...secretsWanted].map((key) =>
      limit(async () => {
        const [namespace, name] = splitKey(key);
        try {
          const secret = await call(`read secret ${key}`, () => conn.core.readNamespacedSecret({ namespace, name }));
          secrets.set(key, summarizeSecret(secret));
        } catch (err) {
          if (isKind(err, 'NotFound')) secrets.set(key, null);
          else warn(`cannot read Secret ${key} (${describeError(err)})`);
        }
      }),
    ),
    ...[...accountsWanted].map((key) =>
      limit(async () => {
        const [namespace, name] = splitKey(key);
        try {
          serviceAccounts.set(key, await call(`read serviceaccount ${key}`, () => conn.core.readNamespacedServiceAccount({ namespace, name })));
        } catch (err) {
          if (isKind(err, 'NotFound')) serviceAccounts.set(key, null);
          else warn(`cannot read ServiceAccount ${key} (${describeError(err)})`);
        }
      }),
    ),
  ]);

  return { scope, now: now(), pods, events, secrets, serviceAccounts, credentials, ...(namespaces ? { namespaces } : {}), warnings };
}

function splitKey(key: string): [string, string] {
  const slash = key.indexOf('/');
  return [key.slice(0, slash), key.slice(slash + 1)];
}

async function readPods(conn: KubeConnection, scope: Scope): Promise<V1Pod[]> {
  if (scope.pod !== undefined) {
    const namespace = scope.namespace!;
    try {
      return [await call(`read pod ${namespace}/${scope.pod}`, () => conn.core.readNamespacedPod({ namespace, name: scope.pod! }))];
    } catch (err) {
      if (isKind(err, 'NotFound')) return [];
      throw err;
    }
  }
  if (scope.allNamespaces) return (await call('list pods', () => conn.core.listPodForAllNamespaces())).items;
  return (await call(`list pods in ${scope.namespace}`, () => conn.core.listNamespacedPod({ namespace: scope.namespace! }))).items;
}

/** Events about pods, only in the namespaces that have a failing pod (one list each). */
async function readEvents(conn: KubeConnection, scope: Scope, failing: V1Pod[], warn: (message: string) => void): Promise<CoreV1Event[]> {
  if (failing.length === 0) return [];
  const namespaces = [...new Set(failing.map((pod) => pod.metadata?.namespace ?? ''))];
  const fieldSelector = scope.pod !== undefined ? `involvedObject.kind=Pod,involvedObject.name=${scope.pod}` : 'involvedObject.kind=Pod';
  const lists = await Promise.all(
    namespaces.map((namespace) =>
      call(`list events in ${namespace}`, () => conn.core.listNamespacedEvent({ namespace, fieldSelector })).then(
        (list) => list.items,
        (err: unknown) => {
          warn(`cannot list Events in ${namespace} (${describeError(err)}); the evidence is the waiting message alone`);
          return [] as CoreV1Event[];
        },
      ),
    ),
  );
  return lists.flat();
}
