import type { V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { readFileSync } from 'node:fs';
import { GROUP, PLURAL, VERSION } from '../../src/api/constants.js';
import type { RegistryCredential, RegistryCredentialSpec } from '../../src/api/types.js';
import { adminConnection, OPERATOR_NAMESPACE, uniqueName, waitFor } from './cluster.js';

export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_NAMESPACE}:regcred-operator`;

const conn = (): ReturnType<typeof adminConnection> => adminConnection();

export async function createNamespace(name: string, labels: Record<string, string> = {}): Promise<void> {
  await conn().core.createNamespace({ body: { metadata: { name, labels } } });
}

export async function labelNamespace(name: string, labels: Record<string, string | null>): Promise<void> {
  await mergePatchNamespace(name, { labels });
}

export async function annotateNamespace(name: string, annotations: Record<string, string | null>): Promise<void> {
  await mergePatchNamespace(name, { annotations });
}

async function mergePatchNamespace(name: string, metadata: { labels?: Record<string, string | null>; annotations?: Record<string, string | null> }): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
  await conn().core.patchNamespace({ name, body: { metadata } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
}

export async function deleteNamespace(name: string): Promise<void> {
  await conn().core.deleteNamespace({ name }).catch(() => undefined);
}

export async function createSourceSecret(name: string, data: Record<string, string>, type = 'Opaque'): Promise<void> {
  await conn().core.createNamespacedSecret({
    namespace: OPERATOR_NAMESPACE,
    body: { metadata: { name }, type, stringData: data },
  });
}

export async function replaceSourceSecret(name: string, data: Record<string, string>): Promise<void> {
  const current = await conn().core.readNamespacedSecret({ name, namespace: OPERATOR_NAMESPACE });
  await conn().core.replaceNamespacedSecret({
    name,
    namespace: OPERATOR_NAMESPACE,
    body: { metadata: { name, resourceVersion: current.metadata?.resourceVersion }, type: current.type, stringData: data },
  });
}

export async function deleteSourceSecret(name: string): Promise<void> {
  await conn().core.deleteNamespacedSecret({ name, namespace: OPERATOR_NAMESPACE }).catch(() => undefined);
}

export async function createCredential(name: string, spec: RegistryCredentialSpec): Promise<void> {
  await conn().custom.createClusterCustomObject({
    group: GROUP,
    version: VERSION,
    plural: PLURAL,
    body: { apiVersion: `${GROUP}/${VERSION}`, kind: 'RegistryCredential', metadata: { name }, spec },
  });
}

export async function patchCredentialSpec(name: string, spec: Partial<RegistryCredentialSpec>): Promise<void> {
  const { PatchStrategy, setHeaderOptions } = await import('@kubernetes/client-node');
  await conn().custom.patchClusterCustomObject(
    { group: GROUP, version: VERSION, plural: PLURAL, name, body: { spec } },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
}

export async function getCredential(name: string): Promise<RegistryCredential | undefined> {
  try {
    return (await conn().custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })) as RegistryCredential;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export async function deleteCredential(name: string): Promise<void> {
  await conn()
    .custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: PLURAL, name })
    .catch((err: { code?: number }) => {
      if (err.code !== 404) throw err;
    });
}

export async function waitForCredentialGone(name: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(`RegistryCredential ${name} to be gone`, async () => (await getCredential(name)) === undefined, timeoutMs);
}

export function condition(credential: RegistryCredential | undefined, type: string): { status: string; reason: string; message: string } | undefined {
  return credential?.status?.conditions?.find((c) => c.type === type);
}

/** Waits until the credential's status has caught up with its spec and the condition has this status. */
export async function waitForCondition(
  name: string,
  type: string,
  status: 'True' | 'False',
  reason?: string,
  timeoutMs = 30_000,
): Promise<RegistryCredential> {
  return waitFor(
    `${name} ${type}=${status}${reason ? ` (${reason})` : ''}`,
    async () => {
      const credential = await getCredential(name);
      const c = condition(credential, type);
      const current = credential?.status?.observedGeneration === credential?.metadata.generation;
      return current && c?.status === status && (!reason || c.reason === reason) ? credential : undefined;
    },
    timeoutMs,
  );
}

export async function readSecret(namespace: string, name: string): Promise<V1Secret | undefined> {
  try {
    return await conn().core.readNamespacedSecret({ namespace, name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export interface DockerConfig {
  auths: Record<string, { username: string; password: string; auth: string }>;
}

export function dockerConfig(secret: V1Secret | undefined): DockerConfig | undefined {
  const raw = secret?.data?.['.dockerconfigjson'];
  return raw ? (JSON.parse(Buffer.from(raw, 'base64').toString('utf8')) as DockerConfig) : undefined;
}

export async function readServiceAccount(namespace: string, name = 'default'): Promise<V1ServiceAccount | undefined> {
  try {
    return await conn().core.readNamespacedServiceAccount({ namespace, name });
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

export function pullSecretNames(sa: V1ServiceAccount | undefined): string[] {
  return (sa?.imagePullSecrets ?? []).map((ref) => ref.name ?? '');
}

/** Waits for the namespace's ServiceAccount to exist and to list exactly these pull secrets, in order. */
export async function waitForPullSecrets(namespace: string, expected: string[], name = 'default', timeoutMs = 30_000): Promise<void> {
  await waitFor(
    `${namespace}/${name} imagePullSecrets = [${expected.join(', ')}]`,
    async () => {
      const sa = await readServiceAccount(namespace, name);
      return sa !== undefined && JSON.stringify(pullSecretNames(sa)) === JSON.stringify(expected);
    },
    timeoutMs,
  );
}

export interface AuditEvent {
  stage: string;
  verb: string;
  user: { username: string };
  /** The client's User-Agent: an operator run with --leader-elect sends its holder identity in it. */
  userAgent?: string;
  /** RFC 3339 with microseconds, fixed width: sorts as text. */
  requestReceivedTimestamp: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; subresource?: string };
  responseStatus?: { code?: number };
}

export const WRITE_VERBS: ReadonlySet<string> = new Set(['create', 'update', 'patch', 'delete', 'deletecollection']);

/**
 * Every request the control plane has answered, read from its audit log (every request, at Metadata
 * level: who, verb, object, response code), in the log's order: the order the answers completed.
 */
export function auditEvents(): AuditEvent[] {
  const path = process.env.REGCRED_TEST_AUDIT_LOG;
  if (!path) throw new Error('REGCRED_TEST_AUDIT_LOG is not set: the harness starts the control plane with --audit-log');
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as AuditEvent)
    .filter((e) => e.stage === 'ResponseComplete');
}

/**
 * The same events in the order the requests arrived. The log is in the order the answers completed, and
 * a client that sends its next request on an answer may do so a moment before the server logs that
 * answer: to read one client's sequence of requests, sort them.
 */
export function inArrivalOrder(events: readonly AuditEvent[]): AuditEvent[] {
  return [...events].sort((a, b) => (a.requestReceivedTimestamp < b.requestReceivedTimestamp ? -1 : a.requestReceivedTimestamp > b.requestReceivedTimestamp ? 1 : 0));
}

/** Every request the operator's identity has sent (reads included), read from the control plane's audit log. */
export function operatorRequests(): AuditEvent[] {
  return auditEvents().filter((e) => e.user.username === OPERATOR_USER);
}

/** Every write request the operator's identity has sent, read from the control plane's audit log. */
export function operatorWrites(): AuditEvent[] {
  return operatorRequests().filter((e) => WRITE_VERBS.has(e.verb));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * What one test file creates, so its afterAll removes exactly that, in the
 * order the finalizer needs: credentials while the operator still runs, the
 * rest after it stopped.
 */
export class TestResources {
  readonly namespaces: string[] = [];
  readonly credentials: string[] = [];
  readonly sources: string[] = [];

  async namespace(prefix: string, labels: Record<string, string> = {}): Promise<string> {
    const name = uniqueName(prefix);
    await createNamespace(name, labels);
    this.namespaces.push(name);
    return name;
  }

  async source(data: Record<string, string>, name = uniqueName('src')): Promise<string> {
    await createSourceSecret(name, data);
    this.sources.push(name);
    return name;
  }

  async credential(spec: RegistryCredentialSpec, prefix = 'rc'): Promise<string> {
    const name = uniqueName(prefix);
    await createCredential(name, spec);
    this.credentials.push(name);
    return name;
  }

  /** Needs the operator running: each deletion waits for its finalizer. */
  async deleteCredentials(): Promise<void> {
    for (const name of this.credentials) await deleteCredential(name);
    for (const name of this.credentials) await waitForCredentialGone(name).catch(() => undefined);
  }

  async deleteSourcesAndNamespaces(): Promise<void> {
    for (const name of this.sources) await deleteSourceSecret(name);
    for (const ns of this.namespaces) await deleteNamespace(ns);
  }
}
