import { describe, expect, it } from '@jest/globals';
import type { V1Namespace, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { MutationCache } from '../../src/controller/mutation-cache.js';
import { recordingWriter } from '../../src/controller/recording-writer.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import { ADDED_PULL_SECRETS_ANNOTATION, CREDENTIAL_DIGEST_ANNOTATION, CREDENTIAL_LABEL, MANAGED_BY_LABEL } from '../../src/api/constants.js';
import { toNamespaceView, toServiceAccountView } from '../../src/controller/cluster-view.js';
import { mergeSecretForUpdate, type SecretView } from '../../src/desired/secret.js';
import { DataInterner, managedSecretTransform, stripManagedFields, transformNamespace, transformServiceAccount } from '../../src/kube/transforms.js';
import { watchOptionsFrom } from '../../src/main.js';

const managedFields = [{ manager: 'kubectl', operation: 'Update', fieldsType: 'FieldsV1', fieldsV1: { 'f:metadata': { 'f:labels': {} } } }];

describe('transformNamespace', () => {
  it('keeps what the reconcile reads and drops the rest', () => {
    const raw = {
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: {
        name: 'team-a',
        uid: 'u1',
        resourceVersion: '42',
        labels: { env: 'prod' },
        annotations: { 'kubectl.kubernetes.io/last-applied-configuration': 'x'.repeat(4000) },
        managedFields,
        creationTimestamp: '2026-01-01T00:00:00Z',
        deletionTimestamp: '2026-01-02T00:00:00Z',
      },
      spec: { finalizers: ['kubernetes'] },
      status: { phase: 'Terminating', conditions: [{ type: 'NamespaceContentRemaining', status: 'True' }] },
    } as unknown as V1Namespace; // as the API server sends it: timestamps are strings
    const ns = transformNamespace(raw);
    expect(ns).toEqual({
      metadata: { name: 'team-a', uid: 'u1', resourceVersion: '42', labels: { env: 'prod' }, deletionTimestamp: '2026-01-02T00:00:00Z' },
      status: { phase: 'Terminating' },
    });
    // The view the reconcile takes is the same from the transformed object as from the full one.
    expect(toNamespaceView(ns)).toEqual(toNamespaceView(raw));
  });
});

describe('transformServiceAccount', () => {
  it('keeps identity, imagePullSecrets and only our annotation', () => {
    const raw = {
      metadata: {
        name: 'default',
        namespace: 'team-a',
        uid: 'u2',
        resourceVersion: '7',
        labels: { a: 'b' },
        annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: 'reg-pull', 'other/annotation': 'big' },
        managedFields,
      },
      secrets: [{ name: 'default-token-abcde' }],
      imagePullSecrets: [{ name: 'theirs' }, { name: 'reg-pull' }],
      automountServiceAccountToken: false,
    };
    const sa = transformServiceAccount(raw);
    expect(sa).toEqual({
      metadata: { name: 'default', namespace: 'team-a', uid: 'u2', resourceVersion: '7', annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: 'reg-pull' } },
      imagePullSecrets: [{ name: 'theirs' }, { name: 'reg-pull' }],
    });
    const { annotations: _all, ...viewOfRaw } = toServiceAccountView(raw);
    const { annotations, ...view } = toServiceAccountView(sa);
    expect(view).toEqual(viewOfRaw);
    expect(annotations?.[ADDED_PULL_SECRETS_ANNOTATION]).toBe('reg-pull');
  });

  it('a ServiceAccount without pull secrets or our annotation stays without them', () => {
    expect(transformServiceAccount({ metadata: { name: 'builder', namespace: 'ns', resourceVersion: '1' } })).toEqual({
      metadata: { name: 'builder', namespace: 'ns', uid: undefined, resourceVersion: '1' },
    });
  });
});

describe('managed Secrets', () => {
  const secret = (name: string, auth: string): V1Secret => ({
    metadata: {
      name,
      namespace: 'team-a',
      uid: `uid-${name}`,
      resourceVersion: '9',
      labels: { [MANAGED_BY_LABEL]: 'regcred-operator', [CREDENTIAL_LABEL]: 'ecr', theirs: 'kept' },
      annotations: { [CREDENTIAL_DIGEST_ANNOTATION]: 'd1', 'their/annotation': 'kept' },
      ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'y' }],
      finalizers: ['their/finalizer'],
      managedFields,
    },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(auth).toString('base64') },
  });

  it('drop only managedFields, so a replace built from the cached copy keeps everything of others', () => {
    const transform = managedSecretTransform(new DataInterner());
    const raw = secret('reg', '{"auths":{}}');
    const cached = transform(raw);
    const { managedFields: _mf, ...metadataWithout } = raw.metadata!;
    expect(cached).toEqual({ ...raw, metadata: metadataWithout });
    const put = mergeSecretForUpdate(cached as SecretView, {
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': 'bmV3' },
      metadata: { labels: { [CREDENTIAL_LABEL]: 'ecr' }, annotations: { [CREDENTIAL_DIGEST_ANNOTATION]: 'd2' }, ownerReferences: [] },
    });
    expect(put.metadata.finalizers).toEqual(['their/finalizer']);
    expect(put.metadata.labels?.theirs).toBe('kept');
    expect(put.metadata.annotations?.['their/annotation']).toBe('kept');
    expect(put.metadata.ownerReferences).toEqual([{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'y' }]);
    expect(put.metadata.managedFields).toBeUndefined();
    expect(put.data).toEqual({ '.dockerconfigjson': 'bmV3' });
  });

  it('share one frozen data object per distinct content', () => {
    const interner = new DataInterner();
    const transform = managedSecretTransform(interner);
    const a = transform(secret('a', 'one'));
    const b = transform(secret('b', 'one'));
    const c = transform(secret('c', 'two'));
    expect(a.data).toBe(b.data);
    expect(a.data).not.toBe(c.data);
    expect(a.data).toEqual(secret('a', 'one').data);
    expect(Object.isFrozen(a.data)).toBe(true);
    expect(interner.size).toBe(2);
    // Key order does not make two contents different; a different key does.
    expect(interner.intern({ y: '2', x: '1' })).toBe(interner.intern({ x: '1', y: '2' }));
    expect(interner.intern({ x: '1', y: '2' })).not.toBe(interner.intern({ x: '1', z: '2' }));
  });
});

describe('stripManagedFields', () => {
  it('keeps everything else and leaves an object without managedFields as it is', () => {
    const raw = { apiVersion: 'x/v1', kind: 'K', metadata: { name: 'n', annotations: { a: 'b' }, managedFields }, spec: { s: 1 } };
    expect(stripManagedFields(raw)).toEqual({ apiVersion: 'x/v1', kind: 'K', metadata: { name: 'n', annotations: { a: 'b' } }, spec: { s: 1 } });
    const plain = { metadata: { name: 'n' } };
    expect(stripManagedFields(plain)).toBe(plain);
  });
});

describe('watchOptionsFrom', () => {
  it('reads the test knobs and ignores nonsense', () => {
    expect(watchOptionsFrom({})).toEqual({});
    expect(watchOptionsFrom({ REGCRED_WATCH_TIMEOUT_SECONDS: '30', REGCRED_WATCH_BOOKMARKS: 'false' })).toEqual({ timeoutSeconds: 30, bookmarks: false });
    expect(watchOptionsFrom({ REGCRED_WATCH_TIMEOUT_SECONDS: '0', REGCRED_WATCH_BOOKMARKS: 'no' })).toEqual({});
    expect(watchOptionsFrom({ REGCRED_WATCH_TIMEOUT_SECONDS: '1.5' })).toEqual({});
    expect(watchOptionsFrom({ REGCRED_INFORMER_TRANSFORM: 'false' })).toEqual({ untransformed: true });
  });
});

describe('recordingWriter with the informers\' shape', () => {
  it('keeps our writes as the cache would hold them until the watch shows them', async () => {
    const interner = new DataInterner();
    const view = { secretWrites: new MutationCache<V1Secret>({ now: () => 0 }), serviceAccountWrites: new MutationCache<V1ServiceAccount>({ now: () => 0 }) };
    const answer = <T>(obj: T): T => ({ ...obj, metadata: { ...(obj as { metadata: object }).metadata, resourceVersion: '5', managedFields } });
    const writer = {
      createSecret: (s: V1Secret) => Promise.resolve(answer(s)),
      patchServiceAccount: (namespace: string, name: string) =>
        Promise.resolve(answer<V1ServiceAccount>({ metadata: { name, namespace, annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: 'reg', other: 'x' } }, secrets: [{ name: 't' }], imagePullSecrets: [{ name: 'reg' }] })),
    } as unknown as KubeWriter;
    const recording = recordingWriter(writer, view, { secret: managedSecretTransform(interner), serviceAccount: transformServiceAccount });
    const body: V1Secret = { metadata: { name: 'reg', namespace: 'ns' }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': 'e30=' } };
    const returned = await recording.createSecret(body);
    expect(returned.metadata?.managedFields).toEqual(managedFields);
    const kept = view.secretWrites.read('ns', 'reg', undefined);
    expect(kept?.metadata?.managedFields).toBeUndefined();
    expect(kept?.data).toBe(interner.intern({ '.dockerconfigjson': 'e30=' }));
    await recording.patchServiceAccount('ns', 'default', {});
    expect(view.serviceAccountWrites.read('ns', 'default', undefined)).toEqual({
      metadata: { name: 'default', namespace: 'ns', uid: undefined, resourceVersion: '5', annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: 'reg' } },
      imagePullSecrets: [{ name: 'reg' }],
    });
  });

  it('announces each write before sending it, so its watch event coming before the answer is known as its echo; a failed write\'s is not', async () => {
    const view = { secretWrites: new MutationCache<V1Secret>({ now: () => 0 }), serviceAccountWrites: new MutationCache<V1ServiceAccount>({ now: () => 0 }) };
    const answers: { resolve: (s: V1Secret) => void; reject: (e: Error) => void }[] = [];
    const writer = {
      replaceSecret: () => new Promise<V1Secret>((resolve, reject) => answers.push({ resolve, reject })),
      patchServiceAccount: () => Promise.reject(new Error('conflict')),
    } as unknown as KubeWriter;
    const recording = recordingWriter(writer, view);
    const body: V1Secret = { metadata: { name: 'reg', namespace: 'ns', resourceVersion: '4' } };
    const written = recording.replaceSecret(body);
    // The watch shows the write before its answer comes back.
    const echo = view.secretWrites.observed('ns', 'reg', '5', false);
    expect(echo).toBeInstanceOf(Promise);
    answers[0]!.resolve({ ...body, metadata: { ...body.metadata, resourceVersion: '5' } });
    await written;
    await expect(echo).resolves.toBe(true);

    const failing = recording.replaceSecret(body);
    const change = view.secretWrites.observed('ns', 'reg', '6', false);
    answers[1]!.reject(new Error('timed out'));
    await expect(failing).rejects.toThrow('timed out');
    await expect(change).resolves.toBe(false);

    // The ServiceAccount edits go the same way: once the failed patch has settled, nothing is held for it.
    await expect(recording.patchServiceAccount('ns', 'default', {})).rejects.toThrow('conflict');
    expect(view.serviceAccountWrites.observed('ns', 'default', '7', false)).toBe(false);
  });
});
