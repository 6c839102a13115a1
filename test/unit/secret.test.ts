import { createHash } from 'node:crypto';
import { describe, expect, it } from '@jest/globals';
import {
  ownershipOfCached,
  desiredSecret,
  mergeSecretForUpdate,
  secretNeedsReplace,
  secretNeedsUpdate,
  type SecretView,
} from '../../src/desired/secret.js';

const JSON_TEXT = '{"auths":{"ghcr.io":{"username":"u","password":"p","auth":"dTpw"}}}';
const base = {
  credentialName: 'ghcr',
  credentialUid: 'uid-1',
  secretName: 'regcred-ghcr',
  namespace: 'team-a',
  dockerConfigJson: JSON_TEXT,
};
// The digest of the document the Secret holds: tells the operator's own copies from hand-edited ones.
const DIGEST = createHash('sha256').update(JSON_TEXT).digest('hex');
const desired = desiredSecret({ ...base, expiresAt: new Date('2026-11-22T13:00:00.123Z') });
const ourRef = {
  apiVersion: 'regcred.io/v1alpha1',
  kind: 'RegistryCredential',
  name: 'ghcr',
  uid: 'uid-1',
  controller: true,
  blockOwnerDeletion: false,
};

/** What the API server would return after creating `desired`, plus what others added since. */
function existing(overrides: Omit<Partial<SecretView>, 'metadata'> & { metadata?: Partial<SecretView['metadata']> } = {}): SecretView {
  const { metadata, ...rest } = overrides;
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: desired.type,
    data: { ...desired.data },
    ...rest,
    metadata: {
      name: 'regcred-ghcr',
      namespace: 'team-a',
      uid: 'secret-uid',
      resourceVersion: '42',
      labels: { ...desired.metadata.labels, 'team.example/owner': 'alice' },
      annotations: { ...desired.metadata.annotations, 'note.example/why': 'kept' },
      ownerReferences: [{ ...ourRef }],
      ...metadata,
    },
  };
}

describe('desiredSecret', () => {
  it('builds a dockerconfigjson Secret labelled, annotated and owned by the credential', () => {
    expect(desired).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'regcred-ghcr',
        namespace: 'team-a',
        labels: { 'app.kubernetes.io/managed-by': 'regcred-operator', 'regcred.io/credential': 'ghcr' },
        annotations: { 'regcred.io/expires-at': '2026-11-22T13:00:00Z', 'regcred.io/credential-sha256': DIGEST },
        ownerReferences: [ourRef],
      },
      type: 'kubernetes.io/dockerconfigjson',
      data: { '.dockerconfigjson': Buffer.from(JSON_TEXT).toString('base64') },
    });
  });

  it('has no expires-at annotation without an expiry', () => {
    expect(desiredSecret(base).metadata.annotations).toEqual({});
  });
});

describe('ownershipOfCached', () => {
  it.each([
    { name: 'not in the managed cache', secret: undefined, want: 'unmanaged-or-none' },
    { name: 'ours', secret: existing(), want: 'ours' },
    { name: 'no labels at all', secret: existing({ metadata: { labels: undefined } }), want: 'foreign' },
    { name: 'no managed-by label', secret: existing({ metadata: { labels: { 'regcred.io/credential': 'ghcr' } } }), want: 'foreign' },
    {
      name: 'managed by someone else',
      secret: existing({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'helm', 'regcred.io/credential': 'ghcr' } } }),
      want: 'foreign',
    },
    {
      name: "another credential's",
      secret: existing({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'regcred-operator', 'regcred.io/credential': 'ecr' } } }),
      want: 'foreign',
    },
    {
      name: 'ours but without the credential label',
      secret: existing({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'regcred-operator' } } }),
      want: 'foreign',
    },
  ])('$name → $want', ({ secret, want }) => {
    expect(ownershipOfCached(secret, 'ghcr')).toBe(want);
  });
});

describe('secretNeedsUpdate', () => {
  it.each([
    { name: 'identical, with others’ labels and annotations', secret: existing(), want: false },
    { name: 'someone else’s ownerReference added', secret: existing({ metadata: { ownerReferences: [{ apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' }, ourRef] } }), want: false },
    { name: 'different data', secret: existing({ data: { '.dockerconfigjson': 'e30=' } }), want: true },
    { name: 'an extra data key', secret: existing({ data: { ...desired.data, extra: 'eA==' } }), want: true },
    { name: 'no data', secret: existing({ data: undefined }), want: true },
    { name: 'a different type', secret: existing({ type: 'Opaque' }), want: true },
    { name: 'our label changed', secret: existing({ metadata: { labels: { 'app.kubernetes.io/managed-by': 'regcred-operator', 'regcred.io/credential': 'other' } } }), want: true },
    { name: 'expiry annotation missing', secret: existing({ metadata: { annotations: { 'note.example/why': 'kept' } } }), want: true },
    { name: 'expiry annotation stale', secret: existing({ metadata: { annotations: { 'regcred.io/expires-at': '2026-11-22T01:00:00Z' } } }), want: true },
    { name: 'ownerReference missing', secret: existing({ metadata: { ownerReferences: [] } }), want: true },
    { name: 'ownerReference to an older credential uid', secret: existing({ metadata: { ownerReferences: [{ ...ourRef, uid: 'uid-0' }] } }), want: true },
    { name: 'a stale extra credential reference', secret: existing({ metadata: { ownerReferences: [ourRef, { ...ourRef, uid: 'uid-0', controller: false }] } }), want: true },
    { name: 'ownerReference not controller', secret: existing({ metadata: { ownerReferences: [{ ...ourRef, controller: false }] } }), want: true },
  ])('$name → $want', ({ secret, want }) => {
    expect(secretNeedsUpdate(secret, desired)).toBe(want);
  });

  it('wants the expiry annotation removed once the credential no longer expires', () => {
    expect(secretNeedsUpdate(existing(), desiredSecret(base))).toBe(true);
    const withoutExpiry = existing({ metadata: { annotations: { 'note.example/why': 'kept' } } });
    expect(secretNeedsUpdate(withoutExpiry, desiredSecret(base))).toBe(false);
  });
});

describe('secretNeedsReplace', () => {
  it('is true only when the immutable type differs', () => {
    expect(secretNeedsReplace(existing(), desired)).toBe(false);
    expect(secretNeedsReplace(existing({ data: {} }), desired)).toBe(false);
    expect(secretNeedsReplace(existing({ type: 'Opaque' }), desired)).toBe(true);
  });
});

describe('mergeSecretForUpdate', () => {
  it('sets our fields and keeps everything else', () => {
    const foreignRef = { apiVersion: 'v1', kind: 'ConfigMap', name: 'x', uid: 'u' };
    const stale = existing({
      data: { '.dockerconfigjson': 'e30=', extra: 'eA==' },
      metadata: {
        labels: { 'team.example/owner': 'alice', 'regcred.io/credential': 'ghcr', 'app.kubernetes.io/managed-by': 'regcred-operator' },
        annotations: { 'note.example/why': 'kept', 'regcred.io/expires-at': '2026-11-22T01:00:00Z' },
        ownerReferences: [foreignRef, { ...ourRef, uid: 'uid-0' }],
        finalizers: ['example.com/keep'],
      },
    });
    const merged = mergeSecretForUpdate(stale, desired);
    expect(merged).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: {
        name: 'regcred-ghcr',
        namespace: 'team-a',
        uid: 'secret-uid',
        resourceVersion: '42',
        labels: { 'team.example/owner': 'alice', 'regcred.io/credential': 'ghcr', 'app.kubernetes.io/managed-by': 'regcred-operator' },
        annotations: { 'note.example/why': 'kept', 'regcred.io/expires-at': '2026-11-22T13:00:00Z', 'regcred.io/credential-sha256': DIGEST },
        ownerReferences: [foreignRef, ourRef],
        finalizers: ['example.com/keep'],
      },
      type: 'kubernetes.io/dockerconfigjson',
      data: desired.data,
    });
    expect(secretNeedsUpdate(merged, desired)).toBe(false);
  });

  it('removes our expiry annotation when the desired Secret has none', () => {
    const merged = mergeSecretForUpdate(existing(), desiredSecret(base));
    expect(merged.metadata.annotations).toEqual({ 'note.example/why': 'kept' });
  });

  it('does not modify its inputs', () => {
    const before = existing({ data: { '.dockerconfigjson': 'e30=' } });
    const copy = structuredClone(before);
    mergeSecretForUpdate(before, desired);
    expect(before).toEqual(copy);
  });
});
