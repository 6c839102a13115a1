import { describe, expect, it } from '@jest/globals';
import {
  desiredSecret,
  desiredSecretIn,
  secretNeedsUpdate,
  secretTemplate,
  type DesiredSecretInput,
  type SecretView,
} from '../../src/desired/secret.js';

/**
 * The per-credential template the reconciler builds once per reconcile: it must give exactly the Secret
 * desiredSecret gives for each namespace, and compare exactly as that Secret does.
 */

const JSON_TEXT = '{"auths":{"ghcr.io":{"username":"u","password":"p","auth":"dTpw"}}}';
const input: Omit<DesiredSecretInput, 'namespace'> = { credentialName: 'ghcr', credentialUid: 'uid-1', secretName: 'regcred-ghcr', dockerConfigJson: JSON_TEXT };
const expiring = { ...input, expiresAt: new Date('2026-11-22T13:00:00.123Z') };

describe('secretTemplate + desiredSecretIn', () => {
  it.each([
    { name: 'static', input },
    { name: 'expiring', input: expiring },
    { name: 'another secret name', input: { ...input, secretName: 'pull' } },
  ])('$name: the same Secret as desiredSecret, in every namespace', ({ input: given }) => {
    const template = secretTemplate(given);
    for (const namespace of ['team-a', 'team-b']) {
      expect(desiredSecretIn(template, namespace)).toEqual(desiredSecret({ ...given, namespace }));
    }
  });

  it('hands out copies: editing one namespace’s Secret changes neither the template nor the next one', () => {
    const template = secretTemplate(expiring);
    const a = desiredSecretIn(template, 'team-a');
    a.metadata.labels.extra = 'x';
    a.metadata.annotations.extra = 'x';
    a.metadata.ownerReferences[0]!.uid = 'changed';
    a.data['.dockerconfigjson'] = 'changed';
    expect(desiredSecretIn(template, 'team-b')).toEqual(desiredSecret({ ...expiring, namespace: 'team-b' }));
  });
});

describe('secretNeedsUpdate against the template', () => {
  const desired = desiredSecret({ ...expiring, namespace: 'team-a' });
  const template = secretTemplate(expiring);
  const ourRef = desired.metadata.ownerReferences[0]!;
  const existing = (change: (s: SecretView) => void = () => undefined): SecretView => {
    const secret: SecretView = structuredClone({ ...desired, metadata: { ...desired.metadata, uid: 's-1', resourceVersion: '7' } });
    change(secret);
    return secret;
  };

  it.each<{ name: string; secret: SecretView; want: boolean }>([
    { name: 'as written', secret: existing(), want: false },
    { name: 'others’ labels and annotations added', secret: existing((s) => Object.assign(s.metadata, { labels: { ...s.metadata.labels, a: 'b' }, annotations: { ...s.metadata.annotations, c: 'd' } })), want: false },
    { name: 'data edited', secret: existing((s) => (s.data = { '.dockerconfigjson': 'e30=' })), want: true },
    { name: 'an extra data key', secret: existing((s) => (s.data = { ...s.data, extra: 'eA==' })), want: true },
    { name: 'our label removed', secret: existing((s) => delete s.metadata.labels!['regcred.io/credential']), want: true },
    { name: 'digest annotation edited', secret: existing((s) => (s.metadata.annotations!['regcred.io/credential-sha256'] = 'x')), want: true },
    { name: 'wrong type', secret: existing((s) => (s.type = 'Opaque')), want: true },
    { name: 'owner reference of an older uid', secret: existing((s) => (s.metadata.ownerReferences = [{ ...ourRef, uid: 'old' }])), want: true },
    { name: 'owner reference in another version of our group', secret: existing((s) => (s.metadata.ownerReferences = [{ ...ourRef, apiVersion: 'regcred.io/v1' }])), want: true },
    { name: 'a second reference to our group without a version', secret: existing((s) => s.metadata.ownerReferences!.push({ ...ourRef, apiVersion: 'regcred.io' })), want: true },
    { name: 'another group’s reference beside ours', secret: existing((s) => s.metadata.ownerReferences!.push({ ...ourRef, apiVersion: 'regcred.io.example/v1' })), want: false },
    { name: 'no owner references', secret: existing((s) => (s.metadata.ownerReferences = [])), want: true },
  ])('$name: $want', ({ secret, want }) => {
    expect(secretNeedsUpdate(secret, template)).toBe(want);
    expect(secretNeedsUpdate(secret, desired)).toBe(want);
  });
});
