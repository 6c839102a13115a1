import { describe, expect, it } from '@jest/globals';
import type { V1Namespace, V1ServiceAccount } from '@kubernetes/client-node';
import { ADDED_PULL_SECRETS_ANNOTATION } from '../../src/api/constants.js';
import type { RegistryCredential, RegistryCredentialSpec } from '../../src/api/types.js';
import type { V1Secret } from '@kubernetes/client-node';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { CredentialEvents, keysForCredential, keysForManagedSecret, NamespaceEvents, ServiceAccountEvents } from '../../src/controller/event-keys.js';

/** Which credentials a ServiceAccount event wakes: all that it concerns, except for updates that change nothing they read. */

function credential(name: string, spec: Partial<RegistryCredentialSpec> = {}): RegistryCredential {
  return { apiVersion: 'regcred.io/v1alpha1', kind: 'RegistryCredential', metadata: { name }, spec: { static: { registry: 'r', credentialsSecretRef: { name: 's' } }, ...spec } };
}

function sa(name: string, entries: string[], recorded?: string, namespace = 'team-a'): V1ServiceAccount {
  return {
    metadata: { name, namespace, ...(recorded !== undefined ? { annotations: { [ADDED_PULL_SECRETS_ANNOTATION]: recorded } } : {}) },
    imagePullSecrets: entries.map((n) => ({ name: n })),
  };
}

const ghcr = credential('ghcr');
const gcr = credential('gcr', { secretName: 'gcr-pull' });
const builders = credential('builders', { serviceAccounts: { names: ['builder'] } });
const everyone = credential('everyone', { serviceAccounts: { names: ['*'] } });
const all = [ghcr, gcr, builders, everyone];

describe('ServiceAccountEvents', () => {
  it('wakes every credential that selects a ServiceAccount when it is added, or first seen after a restart', () => {
    const events = new ServiceAccountEvents();
    expect(events.keys(sa('default', []), all, false)).toEqual(['ghcr', 'gcr', 'everyone']);
    expect(events.keys(sa('builder', ['ghcr']), all, false)).toEqual(['builders', 'everyone']);
  });

  it('wakes only the credential whose own entry another writer added, not the others that select the account', () => {
    const events = new ServiceAccountEvents();
    events.keys(sa('default', ['ghcr'], '["ghcr"]'), all, false);
    expect(events.keys(sa('default', ['ghcr', 'gcr-pull'], '["gcr-pull","ghcr"]'), all, false)).toEqual(['gcr']);
    // Same entries, same record: a label or another field changed; nobody has anything to do.
    expect(events.keys({ ...sa('default', ['ghcr', 'gcr-pull'], '["gcr-pull","ghcr"]'), automountServiceAccountToken: false }, all, false)).toEqual([]);
  });

  it('keys on the entry a credential reads: a foreign entry added by someone else wakes no one', () => {
    const events = new ServiceAccountEvents();
    events.keys(sa('default', ['ghcr']), all, false);
    expect(events.keys(sa('default', ['ghcr', 'dockerhub']), all, false)).toEqual([]);
  });

  it('wakes a credential whose entry was removed by hand, so that it puts it back', () => {
    const events = new ServiceAccountEvents();
    events.keys(sa('default', ['ghcr', 'gcr-pull'], 'gcr-pull,ghcr'), all, false);
    expect(events.keys(sa('default', ['gcr-pull'], 'gcr-pull,ghcr'), all, false)).toEqual(['ghcr']);
  });

  it('wakes a credential whose record changed, even where the entry stayed, and one only the record links to the account', () => {
    const events = new ServiceAccountEvents();
    events.keys(sa('builder', ['gcr-pull']), all, false);
    // gcr does not select "builder": only the record links it, and it may have to remove its entry.
    expect(events.keys(sa('builder', ['gcr-pull'], 'gcr-pull'), all, false)).toEqual(['gcr']);
    // Record gone (someone cleared the annotation): gcr no longer counts the entry as its own.
    expect(events.keys(sa('builder', ['gcr-pull'], ''), all, false)).toEqual(['gcr']);
  });

  it('wakes every concerned credential on delete, and forgets the account, so a new one of that name counts as added', () => {
    const events = new ServiceAccountEvents();
    events.keys(sa('default', ['ghcr']), all, false);
    expect(events.size).toBe(1);
    expect(events.keys(sa('default', ['ghcr']), all, true)).toEqual(['ghcr', 'gcr', 'everyone']);
    expect(events.size).toBe(0);
    expect(events.keys(sa('default', ['ghcr']), all, false)).toEqual(['ghcr', 'gcr', 'everyone']);
  });

  it('tells accounts of the same name in different namespaces apart', () => {
    const events = new ServiceAccountEvents();
    events.keys(sa('default', ['ghcr'], undefined, 'team-a'), all, false);
    expect(events.keys(sa('default', [], undefined, 'team-b'), all, false)).toEqual(['ghcr', 'gcr', 'everyone']);
  });
});

describe('NamespaceEvents', () => {
  const credentials = [ghcr, gcr];
  function ns(labels: Record<string, string>, more: Partial<V1Namespace> = {}): V1Namespace {
    return { metadata: { name: 'team-a', labels, ...more.metadata }, ...(more.status ? { status: more.status } : {}) };
  }

  it('wakes every credential when a namespace appears, is relabelled, starts terminating or goes', () => {
    const events = new NamespaceEvents();
    expect(events.keys(ns({ team: 'a' }), credentials, false)).toEqual(['ghcr', 'gcr']);
    expect(events.keys(ns({ team: 'a', tier: 'prod' }), credentials, false)).toEqual(['ghcr', 'gcr']);
    expect(events.keys(ns({ team: 'a', tier: 'prod' }, { metadata: { deletionTimestamp: new Date() } }), credentials, false)).toEqual(['ghcr', 'gcr']);
    expect(events.keys(ns({ team: 'a', tier: 'prod' }), credentials, true)).toEqual(['ghcr', 'gcr']);
    expect(events.size).toBe(0);
  });

  it('wakes no one for an update that changes nothing a reconcile reads', () => {
    const events = new NamespaceEvents();
    const terminating = { metadata: { deletionTimestamp: new Date() }, status: { phase: 'Terminating' } };
    events.keys(ns({ team: 'a', tier: 'prod' }, terminating), credentials, false);
    // The namespace controller reporting its progress in status conditions, an annotation, labels in another order.
    expect(events.keys(ns({ team: 'a', tier: 'prod' }, { ...terminating, status: { phase: 'Terminating', conditions: [{ type: 'NamespaceContentRemaining', status: 'True' }] } }), credentials, false)).toEqual([]);
    expect(events.keys(ns({ tier: 'prod', team: 'a' }, { metadata: { deletionTimestamp: new Date(), annotations: { note: 'x' } }, status: { phase: 'Terminating' } }), credentials, false)).toEqual([]);
  });

  it('wakes every credential for a namespace first seen after a restart of the informer, and for a label removed', () => {
    const events = new NamespaceEvents();
    expect(events.keys(ns({ team: 'a' }), credentials, false)).toEqual(['ghcr', 'gcr']);
    expect(events.keys(ns({}), credentials, false)).toEqual(['ghcr', 'gcr']);
  });
});

describe('a Secret name that frees up wakes whoever waits for it', () => {
  const winner = credential('winner', { secretName: 'shared' });
  const loser = credential('loser', { secretName: 'shared' });
  const other = credential('other');
  const credentials = [winner, loser, other];
  const secret: V1Secret = { metadata: { name: 'shared', namespace: 'team-a', labels: { [CREDENTIAL_LABEL]: 'winner' } } };

  it.each([
    { name: 'a managed Secret changes: only its owner', deleted: false, want: ['winner'] },
    { name: 'a managed Secret is deleted: its owner and every credential publishing that name', deleted: true, want: ['winner', 'loser'] },
  ])('$name', ({ deleted, want }) => {
    expect(keysForManagedSecret(secret, credentials, deleted)).toEqual(want);
  });

  it.each([
    { name: 'a credential changes: only itself', c: winner, deleted: false, want: ['winner'] },
    { name: 'a credential is gone: also those sharing its Secret name', c: winner, deleted: true, want: ['winner', 'loser'] },
    {
      name: 'a credential starts deleting: also those sharing its Secret name',
      c: { ...winner, metadata: { ...winner.metadata, deletionTimestamp: '2026-11-22T00:00:00Z' } },
      deleted: false,
      want: ['winner', 'loser'],
    },
    { name: 'a credential with a name of its own is gone: only itself', c: other, deleted: true, want: ['other'] },
  ])('$name', ({ c, deleted, want }) => {
    expect(keysForCredential(c, credentials, deleted)).toEqual(want);
  });
});

describe('credential events: a status update wakes no one', () => {
  const base = credential('rc', { secretName: 'shared' });
  const sharing = credential('other', { secretName: 'shared' });
  const credentials = [base, sharing];
  const at = (meta: Partial<RegistryCredential['metadata']>, status?: RegistryCredential['status']): RegistryCredential => ({
    ...base,
    metadata: { ...base.metadata, uid: 'uid-1', generation: 1, creationTimestamp: '2026-01-01T00:00:00Z', finalizers: ['regcred.io/cleanup'], ...meta },
    ...(status ? { status } : {}),
  });

  it('the first event, then only changes of what the reconcile reads: generation, finalizers, deletion, a new object of the name', () => {
    const events = new CredentialEvents();
    expect(events.keys(at({}), credentials, false)).toEqual(['rc']);
    // Our own status write, seen again, and a resourceVersion that moved with it: nothing to do.
    expect(events.keys(at({ resourceVersion: '7' }, { syncedNamespaces: 3, targetNamespaces: 3 }), credentials, false)).toEqual([]);
    expect(events.keys(at({ resourceVersion: '8', generation: 2 }), credentials, false)).toEqual(['rc']);
    expect(events.keys(at({ generation: 2, finalizers: [] }), credentials, false)).toEqual(['rc']);
    expect(events.keys(at({ generation: 2, finalizers: [], uid: 'uid-2' }), credentials, false)).toEqual(['rc']);
    expect(events.keys(at({ generation: 2, finalizers: [], uid: 'uid-2', deletionTimestamp: '2026-12-01T00:00:00Z' }), credentials, false)).toEqual(['rc', 'other']);
    expect(events.keys(at({ generation: 2 }), credentials, true)).toEqual(['rc', 'other']);
    expect(events.size).toBe(0);
  });
});
