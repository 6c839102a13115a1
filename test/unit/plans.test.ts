import { describe, expect, it } from '@jest/globals';
import { ADDED_PULL_SECRETS_ANNOTATION, CREDENTIAL_LABEL, DOCKERCONFIGJSON_KEY, MANAGED_BY_LABEL, MANAGED_BY_VALUE } from '../../src/api/constants.js';
import type { RegistryCredential, RegistryCredentialSpec } from '../../src/api/types.js';
import { desiredSecretIn, secretTemplate, type SecretView } from '../../src/desired/secret.js';
import type { ServiceAccountView } from '../../src/desired/service-accounts.js';
import type { Snapshot } from '../../src/reconcile/gather.js';
import { planSecrets } from '../../src/reconcile/plan-secrets.js';
import { deletableSecrets, planCleanup, planServiceAccounts } from '../../src/reconcile/plan-service-accounts.js';

/**
 * The two fan-out plans, case by case, over hand-built snapshots: what each namespace's Secret needs, and
 * which ServiceAccount entries are added and removed (and which Secrets may go) after a change of spec.
 */

const NAME = 'rc';
const NOW = new Date('2026-11-22T12:00:00Z');
const TEMPLATE = secretTemplate({ credentialName: NAME, credentialUid: 'uid-1', secretName: 'pull', dockerConfigJson: '{"auths":{"ghcr.io":{"auth":"dTpw"}}}' });

function ours(namespace: string, name = 'pull', data = TEMPLATE.data[DOCKERCONFIGJSON_KEY]!): SecretView {
  const secret = desiredSecretIn({ ...TEMPLATE, metadata: { ...TEMPLATE.metadata, name } }, namespace);
  return { ...secret, metadata: { ...secret.metadata, uid: `uid-${namespace}-${name}` }, data: { [DOCKERCONFIGJSON_KEY]: data } };
}

function theirs(namespace: string, owner: string, name = 'pull'): SecretView {
  return { metadata: { name, namespace, labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE, [CREDENTIAL_LABEL]: owner } }, type: 'Opaque' };
}

function sa(namespace: string, name: string, entries: string[], recorded?: string[]): ServiceAccountView {
  return {
    namespace,
    name,
    resourceVersion: '1',
    imagePullSecrets: entries.map((n) => ({ name: n })),
    annotations: recorded ? { [ADDED_PULL_SECRETS_ANNOTATION]: JSON.stringify(recorded) } : undefined,
  };
}

interface World {
  spec?: Partial<RegistryCredentialSpec>;
  targets: string[];
  secrets?: SecretView[];
  accounts?: ServiceAccountView[];
  claims?: Record<string, string>;
}

function snapshot(world: World): Snapshot {
  const spec: RegistryCredentialSpec = { static: { registry: 'ghcr.io', credentialsSecretRef: { name: 'src' } }, secretName: 'pull', ...world.spec };
  const credential: RegistryCredential = { apiVersion: 'regcred.io/v1alpha1', kind: 'RegistryCredential', metadata: { name: NAME, uid: 'uid-1' }, spec };
  const secrets = world.secrets ?? [];
  const accounts = world.accounts ?? [];
  const secretName = spec.secretName ?? NAME;
  const find = (ns: string, name: string): SecretView | undefined => secrets.find((s) => s.metadata.namespace === ns && s.metadata.name === name);
  return {
    now: NOW,
    credential,
    name: NAME,
    secretName,
    validation: { ok: true, provider: 'static' },
    targets: world.targets,
    missingNamespaces: [],
    existing: new Map(world.targets.flatMap((ns) => (find(ns, secretName) ? [[ns, find(ns, secretName)!] as const] : []))),
    ours: secrets.filter((s) => s.metadata.labels?.[CREDENTIAL_LABEL] === NAME),
    claims: new Map(Object.entries(world.claims ?? {})),
    serviceAccountsIn: (ns) => accounts.filter((a) => a.namespace === ns),
    serviceAccountsOutside: (except) => accounts.filter((a) => !except.has(a.namespace)),
    secretOwner: (ns, name) => find(ns, name)?.metadata.labels?.[CREDENTIAL_LABEL],
  };
}

describe('planSecrets', () => {
  const noConflicts = { unmanagedConflicts: new Map<string, number>() };

  it.each<{ name: string; world: World; memory?: Map<string, number>; want: string[] }>([
    { name: 'absent: create', world: { targets: ['a'] }, want: ['a create'] },
    { name: 'ours and current: nothing', world: { targets: ['a'], secrets: [ours('a')] }, want: ['a synced'] },
    { name: 'ours with other data: update', world: { targets: ['a'], secrets: [ours('a', 'pull', 'e30=')] }, want: ['a update'] },
    { name: 'ours with another type: replace (type is immutable)', world: { targets: ['a'], secrets: [{ ...ours('a'), type: 'Opaque' }] }, want: ['a replace'] },
    { name: "another credential's: conflict, untouched", world: { targets: ['a'], secrets: [theirs('a', 'other')] }, want: ['a SecretConflict'] },
    { name: 'claimed by an older credential: conflict, no create', world: { targets: ['a'], claims: { a: 'older' } }, want: ['a SecretConflict'] },
    { name: 'an unmanaged Secret met a minute ago: left alone', world: { targets: ['a'] }, memory: new Map([['a', NOW.getTime() - 60_000]]), want: ['a SecretConflict'] },
    { name: 'an unmanaged Secret met six minutes ago: try again', world: { targets: ['a'] }, memory: new Map([['a', NOW.getTime() - 6 * 60_000]]), want: ['a create'] },
    {
      name: 'with adoptExisting, an unmanaged Secret met a minute ago: try (and adopt) at once',
      world: { targets: ['a'], spec: { adoptExisting: true } },
      memory: new Map([['a', NOW.getTime() - 60_000]]),
      want: ['a create'],
    },
  ])('$name', ({ world, memory, want }) => {
    const plan = planSecrets(snapshot(world), TEMPLATE, memory ? { unmanagedConflicts: memory } : noConflicts);
    const got = [...plan.settled.map((r) => `${r.namespace} ${r.synced ? 'synced' : r.failure?.reason}`), ...plan.writes.map((w) => `${w.namespace} ${w.kind}`)];
    expect(got).toEqual(want);
  });

  it('a conflict says whose the Secret is and how to fix it', () => {
    const plan = planSecrets(snapshot({ targets: ['a'], secrets: [theirs('a', 'other')] }), TEMPLATE, noConflicts);
    expect(plan.settled[0]?.failure?.message).toBe('Secret pull in a is managed by RegistryCredential other: give one of them another spec.secretName');
  });
});

describe('planServiceAccounts', () => {
  /** "ns/sa +add -remove" per edit, sorted. */
  function edits(world: World, synced: string[]): string[] {
    return planServiceAccounts(snapshot(world), new Set(synced))
      .edits.map((e) => `${e.sa.namespace}/${e.sa.name}${e.add ? ` +${e.add}` : ''}${e.remove.map((r) => ` -${r}`).join('')}`)
      .sort();
  }

  it.each<{ name: string; world: World; synced: string[]; want: string[] }>([
    { name: 'a new namespace: add to default', world: { targets: ['a'], secrets: [ours('a')], accounts: [sa('a', 'default', [])] }, synced: ['a'], want: ['a/default +pull'] },
    { name: 'already there: nothing', world: { targets: ['a'], secrets: [ours('a')], accounts: [sa('a', 'default', ['pull'], ['pull'])] }, synced: ['a'], want: [] },
    {
      name: "someone else's entry of our name is there already: nothing (and it stays theirs)",
      world: { targets: ['a'], secrets: [ours('a')], accounts: [sa('a', 'default', ['pull'])] },
      synced: ['a'],
      want: [],
    },
    {
      name: 'a narrower serviceAccounts.names: our entry leaves the others, a person’s stays',
      world: { spec: { serviceAccounts: { names: ['default'] } }, targets: ['a'], secrets: [ours('a')], accounts: [sa('a', 'default', ['pull'], ['pull']), sa('a', 'builder', ['pull'], ['pull']), sa('a', 'ci', ['pull'])] },
      synced: ['a'],
      want: ['a/builder -pull'],
    },
    {
      name: 'a namespace no longer targeted: our entry goes (its Secret goes after)',
      world: { targets: [], secrets: [ours('a')], accounts: [sa('a', 'default', ['x', 'pull'], ['pull'])] },
      synced: [],
      want: ['a/default -pull'],
    },
    {
      name: "a namespace where another credential's Secret of our name is: its entry is not ours to remove",
      world: { targets: [], secrets: [theirs('a', 'other')], accounts: [sa('a', 'default', ['pull'], ['pull'])] },
      synced: [],
      want: [],
    },
    {
      name: 'a target whose write failed this time keeps its entry',
      world: { targets: ['a'], secrets: [ours('a', 'pull', 'e30=')], accounts: [sa('a', 'default', ['pull'], ['pull'])] },
      synced: [],
      want: [],
    },
    {
      name: 'renamed pull → pull2: the old entry goes and the new one comes, in one edit',
      world: { spec: { secretName: 'pull2' }, targets: ['a'], secrets: [ours('a'), ours('a', 'pull2')], accounts: [sa('a', 'default', ['keep', 'pull'], ['pull'])] },
      synced: ['a'],
      want: ['a/default +pull2 -pull'],
    },
    {
      name: 'renamed onto a name a person had already listed: only the old entry goes',
      world: { spec: { secretName: 'pull2' }, targets: ['a'], secrets: [ours('a'), ours('a', 'pull2')], accounts: [sa('a', 'builder', ['keep', 'pull2', 'pull'], ['pull'])], },
      synced: ['a'],
      want: ['a/builder -pull'],
    },
  ])('$name', ({ world, synced, want }) => {
    expect(edits({ ...world, accounts: world.accounts?.map((a) => ({ ...a })) }, synced)).toEqual(want);
  });

  it('stale Secrets: not targeted or under an old name; deletable once no removal naming them failed', () => {
    const plan = planServiceAccounts(snapshot({ spec: { secretName: 'pull2' }, targets: ['a'], secrets: [ours('a'), ours('a', 'pull2'), ours('b', 'pull2')] }), new Set(['a']));
    const stale = plan.staleSecrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort();
    expect(stale).toEqual(['a/pull', 'b/pull2']);
    expect(deletableSecrets(plan.staleSecrets, new Set(['a/pull'])).map((s) => `${s.metadata.namespace}/${s.metadata.name}`)).toEqual(['b/pull2']);
  });

  it('counts the selected ServiceAccounts that carry the entry, and the synced namespaces with none yet', () => {
    const plan = planServiceAccounts(snapshot({ targets: ['a', 'b'], secrets: [ours('a'), ours('b')], accounts: [sa('a', 'default', ['pull'], ['pull'])] }), new Set(['a', 'b']));
    expect({ carrying: plan.carrying, missing: plan.missingServiceAccounts }).toEqual({ carrying: new Map([['a', 1]]), missing: new Set(['b']) });
  });
});

describe('planCleanup (deletionPolicy Delete)', () => {
  it('removes our entries under every name we used, never another credential’s or a person’s, and deletes every Secret of ours', () => {
    const plan = planCleanup(
      snapshot({
        targets: ['a', 'b'],
        secrets: [ours('a'), ours('b', 'old'), theirs('c', 'other')],
        accounts: [
          sa('a', 'default', ['keep', 'pull'], ['pull']),
          sa('b', 'default', ['old'], ['old']),
          sa('c', 'default', ['pull'], ['pull']),
          sa('d', 'default', ['pull']),
        ],
      }),
    );
    expect(plan.edits.map((e) => `${e.sa.namespace}/${e.sa.name} -${e.remove.join(',')}`).sort()).toEqual(['a/default -pull', 'b/default -old']);
    expect(plan.secrets.map((s) => `${s.metadata.namespace}/${s.metadata.name}`).sort()).toEqual(['a/pull', 'b/old']);
  });
});
