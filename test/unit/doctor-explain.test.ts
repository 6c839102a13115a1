import { describe, expect, it } from '@jest/globals';
import type { CoreV1Event, V1Pod, V1Secret, V1ServiceAccount } from '@kubernetes/client-node';
import { diagnose, recreateCommands } from '../../src/doctor/explain.js';
import { renderJson, renderText } from '../../src/doctor/render.js';
import { summarizeSecret } from '../../src/doctor/scan.js';
import type { RegistryCredential } from '../../src/api/types.js';
import type { DoctorSnapshot, PullSecretSummary } from '../../src/doctor/types.js';
import { backOffPulling, CONTAINERD, CRIO, ERROR_ERR_IMAGE_PULL, failedToPull, invalidImageName } from '../support/kubelet-messages.js';

const NOW = new Date('2026-06-01T12:00:00Z');
const NS = 'shop';
const GHCR_IMAGE = 'ghcr.io/acme/api:1.4.2';
const GHCR_URL = 'https://ghcr.io/v2/acme/api/manifests/1.4.2';

interface PodOptions {
  name?: string;
  image?: string;
  reason?: string;
  message?: string;
  pullSecrets?: string[];
  serviceAccount?: string;
  owner?: { kind: string; name: string };
  labels?: Record<string, string>;
  containerType?: 'container' | 'initContainer' | 'ephemeralContainer';
  imagePullPolicy?: string;
  running?: boolean;
}

function pod(options: PodOptions = {}): V1Pod {
  const name = options.name ?? 'api-0';
  const container = { name: 'app', image: options.image ?? GHCR_IMAGE, ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}) };
  const status = {
    name: 'app',
    image: container.image,
    imageID: '',
    ready: false,
    restartCount: 0,
    state: options.running ? { running: {} } : { waiting: { reason: options.reason ?? 'ErrImagePull', ...(options.message !== undefined ? { message: options.message } : {}) } },
  };
  const type = options.containerType ?? 'container';
  return {
    metadata: {
      name,
      namespace: NS,
      uid: `uid-${name}`,
      labels: options.labels ?? {},
      ...(options.owner ? { ownerReferences: [{ apiVersion: 'apps/v1', kind: options.owner.kind, name: options.owner.name, uid: 'o', controller: true }] } : {}),
    },
    spec: {
      serviceAccountName: options.serviceAccount ?? 'default',
      containers: type === 'container' ? [container] : [{ name: 'main', image: 'ghcr.io/acme/main:1' }],
      ...(type === 'initContainer' ? { initContainers: [container] } : {}),
      ...(type === 'ephemeralContainer' ? { ephemeralContainers: [container] } : {}),
      ...(options.pullSecrets ? { imagePullSecrets: options.pullSecrets.map((n) => ({ name: n })) } : {}),
    },
    status: {
      phase: 'Pending',
      ...(type === 'container' ? { containerStatuses: [status] } : {}),
      ...(type === 'initContainer' ? { initContainerStatuses: [status] } : {}),
      ...(type === 'ephemeralContainer' ? { ephemeralContainerStatuses: [status] } : {}),
    },
  };
}

function event(p: V1Pod, message: string, options: { reason?: string; at?: string; fieldPath?: string; component?: string } = {}): CoreV1Event {
  return {
    metadata: { name: `${p.metadata!.name}.${Math.random().toString(16).slice(2)}`, namespace: NS },
    involvedObject: { kind: 'Pod', name: p.metadata!.name, namespace: NS, uid: p.metadata!.uid, apiVersion: 'v1', fieldPath: options.fieldPath ?? 'spec.containers{app}' },
    reason: options.reason ?? 'Failed',
    message,
    type: 'Warning',
    source: { component: options.component ?? 'kubelet', host: 'node-1' },
    lastTimestamp: new Date(options.at ?? '2026-06-01T11:59:00Z'),
  };
}

function credential(name: string, registries: string[], extra: Partial<RegistryCredential['spec']> = {}, status: Partial<NonNullable<RegistryCredential['status']>> = {}): RegistryCredential {
  return {
    apiVersion: 'regcred.io/v1alpha1',
    kind: 'RegistryCredential',
    metadata: { name },
    spec: { static: { registry: registries[0], credentialsSecretRef: { name: 'src' } }, ...extra },
    status: {
      registries,
      conditions: [{ type: 'Ready', status: 'True', reason: 'Synced', message: 'ok', lastTransitionTime: '2026-06-01T00:00:00Z' }],
      ...status,
    },
  };
}

function ourSecret(name: string, credentialName: string, keys: string[], expiresAt?: string): PullSecretSummary {
  return {
    namespace: NS,
    name,
    type: 'kubernetes.io/dockerconfigjson',
    labels: { 'app.kubernetes.io/managed-by': 'regcred-operator', 'regcred.io/credential': credentialName },
    annotations: expiresAt ? { 'regcred.io/expires-at': expiresAt } : {},
    authKeys: keys,
  };
}

function serviceAccount(name: string, pullSecrets: string[]): V1ServiceAccount {
  return { metadata: { name, namespace: NS }, imagePullSecrets: pullSecrets.map((n) => ({ name: n })) };
}

interface SnapshotOptions {
  pods: V1Pod[];
  events?: CoreV1Event[];
  secrets?: (PullSecretSummary | { missing: string })[];
  serviceAccounts?: V1ServiceAccount[];
  credentials?: RegistryCredential[];
  namespaceLabels?: Record<string, string>;
  scope?: DoctorSnapshot['scope'];
}

function snapshot(options: SnapshotOptions): DoctorSnapshot {
  const secrets = new Map<string, PullSecretSummary | null>();
  for (const s of options.secrets ?? []) {
    if ('missing' in s) secrets.set(`${NS}/${s.missing}`, null);
    else secrets.set(`${s.namespace}/${s.name}`, s);
  }
  const accounts = new Map<string, V1ServiceAccount | null>();
  for (const sa of options.serviceAccounts ?? [serviceAccount('default', [])]) accounts.set(`${NS}/${sa.metadata!.name}`, sa);
  return {
    scope: options.scope ?? { namespace: NS, allNamespaces: false },
    now: NOW,
    pods: options.pods,
    events: options.events ?? [],
    secrets,
    serviceAccounts: accounts,
    credentials: options.credentials ?? [],
    namespaces: [
      { name: NS, labels: options.namespaceLabels ?? {}, terminating: false },
      { name: 'other', labels: {}, terminating: false },
    ],
    warnings: [],
  };
}

function only(s: DoctorSnapshot) {
  const report = diagnose(s);
  expect(report.failures).toHaveLength(1);
  return { report, failure: report.failures[0]! };
}

describe('diagnose: one failing container, each link of the chain', () => {
  it('unauthorized, no RegistryCredential covers the registry: an apply sketch and the recreate command', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL), owner: { kind: 'ReplicaSet', name: 'api-7d9f' }, labels: { 'pod-template-hash': '7d9f' } });
    const { report, failure } = only(snapshot({ pods: [p], credentials: [credential('quay', ['quay.io'])] }));
    expect(report.exitCode).toBe(1);
    expect(failure).toMatchObject({ cause: 'unauthorized', registry: 'ghcr.io', candidates: [], findings: [{ code: 'no-credential-covers-registry' }] });
    expect(failure.credential).toBeUndefined();
    expect(failure.fix.commands[1]).toContain('kind: RegistryCredential');
    expect(failure.fix.commands[1]).toContain('registry: ghcr.io');
    expect(failure.fix.commands[1]).toContain(`names: [${NS}]`);
    expect(failure.fix.commands.at(-1)).toBe(`kubectl -n ${NS} rollout restart deployment/api`);
  });

  it('the namespace is not targeted (selector): says which field, and a label command', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL) });
    const rc = credential('ghcr', ['ghcr.io'], { namespaces: { selector: { matchLabels: { 'pull-secrets': 'ghcr' } } } });
    const { failure } = only(snapshot({ pods: [p], credentials: [rc], secrets: [{ missing: 'ghcr' }] }));
    expect(failure.credential).toMatchObject({ name: 'ghcr', targetsNamespace: false });
    expect(failure.findings.map((f) => f.code)).toEqual(['namespace-not-targeted']);
    expect(failure.findings[0]!.message).toContain('spec.namespaces.selector');
    expect(failure.fix.commands[0]).toBe(`kubectl label namespace ${NS} pull-secrets=ghcr`);
  });

  it.each([
    [{ names: ['other'] }, `kubectl patch registrycredential ghcr --type=json -p '[{"op":"add","path":"/spec/namespaces/names/-","value":"${NS}"}]'`, 'spec.namespaces.names'],
    [{ exclude: ['x', NS] }, `kubectl patch registrycredential ghcr --type=json -p '[{"op":"test","path":"/spec/namespaces/exclude/1","value":"${NS}"},{"op":"remove","path":"/spec/namespaces/exclude/1"}]'`, 'spec.namespaces.exclude'],
  ])('the namespace is not targeted (%j)', (namespaces, command, field) => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL) });
    const { failure } = only(snapshot({ pods: [p], credentials: [credential('ghcr', ['ghcr.io'], { namespaces })], secrets: [{ missing: 'ghcr' }] }));
    expect(failure.findings[0]).toMatchObject({ code: 'namespace-not-targeted', message: expect.stringContaining(field) });
    expect(failure.fix.commands[0]).toBe(command);
  });

  it('targeted, but the Secret could not be written there: the failedNamespaces reason', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL) });
    const rc = credential('ghcr', ['ghcr.io'], {}, { failedNamespaces: [{ namespace: NS, reason: 'SecretConflict', message: 'a Secret ghcr exists and is not managed' }] });
    const { failure } = only(snapshot({ pods: [p], credentials: [rc], secrets: [{ missing: 'ghcr' }] }));
    expect(failure.findings.map((f) => f.code)).toEqual(['namespace-failed']);
    expect(failure.fix.summary).toContain('SecretConflict');
  });

  it('targeted, the Secret missing, the credential not Ready: Ready says why', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL) });
    const rc = credential('ghcr', ['ghcr.io'], {}, {
      conditions: [{ type: 'Ready', status: 'False', reason: 'SourceSecretNotFound', message: 'create it', lastTransitionTime: '2026-06-01T00:00:00Z' }],
    });
    const { failure } = only(snapshot({ pods: [p], credentials: [rc], secrets: [{ missing: 'ghcr' }] }));
    expect(failure.findings.map((f) => f.code)).toEqual(['secret-missing', 'credential-not-ready']);
    expect(failure.fix.summary).toContain('SourceSecretNotFound');
  });

  it('a Secret of that name that is not ours', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL) });
    const foreign: PullSecretSummary = { namespace: NS, name: 'ghcr', labels: {}, annotations: {}, authKeys: ['ghcr.io'] };
    const { failure } = only(snapshot({ pods: [p], credentials: [credential('ghcr', ['ghcr.io'])], secrets: [foreign] }));
    expect(failure.findings.map((f) => f.code)).toEqual(['secret-not-ours']);
  });

  it('an expired credential in the Secret', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL), pullSecrets: ['ghcr'] });
    const { failure } = only(snapshot({ pods: [p], credentials: [credential('ghcr', ['ghcr.io'])], secrets: [ourSecret('ghcr', 'ghcr', ['ghcr.io'], '2026-06-01T11:00:00Z')] }));
    expect(failure.findings.map((f) => f.code)).toEqual(['secret-expired']);
  });

  it('the admission race: the ServiceAccount lists the Secret, the pod (created earlier) does not', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL), owner: { kind: 'ReplicaSet', name: 'api-5c6b' }, labels: { 'pod-template-hash': '5c6b' } });
    const { failure } = only(
      snapshot({ pods: [p], credentials: [credential('ghcr', ['ghcr.io'])], secrets: [ourSecret('ghcr', 'ghcr', ['ghcr.io'])], serviceAccounts: [serviceAccount('default', ['ghcr'])] }),
    );
    expect(failure.findings.map((f) => f.code)).toEqual(['pod-predates-pull-secret']);
    expect(failure.findings[0]!.message).toContain('only when it is created');
    expect(failure.fix.commands).toEqual([`kubectl -n ${NS} rollout restart deployment/api`]);
  });

  it('the pod runs as a ServiceAccount the credential does not patch', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL), serviceAccount: 'builder' });
    const { failure } = only(
      snapshot({ pods: [p], credentials: [credential('ghcr', ['ghcr.io'])], secrets: [ourSecret('ghcr', 'ghcr', ['ghcr.io'])], serviceAccounts: [serviceAccount('builder', [])] }),
    );
    expect(failure.findings.map((f) => f.code)).toEqual(['service-account-not-selected']);
    expect(failure.fix.commands[0]).toBe(`kubectl patch registrycredential ghcr --type=merge -p '{"spec":{"serviceAccounts":{"names":["default","builder"]}}}'`);
  });

  it('the chain holds and the registry refuses the login: Verified says why', () => {
    const p = pod({ message: CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL), pullSecrets: ['ghcr'] });
    const rc = credential('ghcr', ['ghcr.io'], {}, {
      conditions: [
        { type: 'Ready', status: 'True', reason: 'Synced', message: 'ok', lastTransitionTime: '2026-06-01T00:00:00Z' },
        { type: 'Verified', status: 'False', reason: 'Unauthorized', message: 'ghcr.io answered 401 to the login', lastTransitionTime: '2026-06-01T00:00:00Z' },
      ],
    });
    const { failure } = only(snapshot({ pods: [p], credentials: [rc], secrets: [ourSecret('ghcr', 'ghcr', ['ghcr.io'])] }));
    expect(failure.pullSecrets).toEqual([{ name: 'ghcr', exists: true, coversImage: true, managedBy: 'ghcr' }]);
    expect(failure.credential?.verified).toEqual({ status: 'False', reason: 'Unauthorized', message: 'ghcr.io answered 401 to the login' });
    expect(failure.findings.map((f) => f.code)).toEqual(['verification-failed']);
    expect(failure.fix.summary).toContain('ghcr.io answered 401');
  });

  it('denied: the login may not pull the repository', () => {
    const p = pod({ message: CONTAINERD.forbidden(GHCR_IMAGE, GHCR_URL), pullSecrets: ['ghcr'] });
    const { failure } = only(snapshot({ pods: [p], credentials: [credential('ghcr', ['ghcr.io'])], secrets: [ourSecret('ghcr', 'ghcr', ['ghcr.io'])] }));
    expect(failure.cause).toBe('denied');
    expect(failure.findings).toEqual([]);
    expect(failure.fix.summary).toContain('read access to ghcr.io/acme/api');
  });

  it('the ambiguous Docker Hub answer names both possibilities', () => {
    const p = pod({ image: 'acme/private:2', message: CONTAINERD.pullAccessDenied('docker.io/acme/private:2'), pullSecrets: ['hub'] });
    const rc = credential('hub', ['https://index.docker.io/v1/']);
    const { failure } = only(snapshot({ pods: [p], credentials: [rc], secrets: [ourSecret('hub', 'hub', ['https://index.docker.io/v1/'])] }));
    expect(failure.cause).toBe('not-found-or-unauthorized');
    expect(failure.explanation).toMatch(/does not exist .* private/);
    expect(failure.fix.summary).toMatch(/does not exist .*grant access/);
  });

  it('not found: fix the image, in the owner', () => {
    const p = pod({ message: CRIO.manifestUnknown('1.4.2', 'ghcr.io/acme/api'), owner: { kind: 'StatefulSet', name: 'db' } });
    const { failure } = only(snapshot({ pods: [p] }));
    expect(failure.cause).toBe('not-found');
    expect(failure.fix.commands).toEqual([`kubectl -n ${NS} set image statefulset/db app=IMAGE`]);
  });

  it('rate-limited on Docker Hub with no credential: an apply sketch for docker.io', () => {
    const p = pod({ image: 'nginx', message: CONTAINERD.tooManyRequests('docker.io/library/nginx:latest', 'https://registry-1.docker.io/v2/library/nginx/manifests/latest') });
    const { report, failure } = only(snapshot({ pods: [p] }));
    expect(failure.cause).toBe('rate-limited');
    expect(failure.fix.commands[1]).toContain('registry: https://index.docker.io/v1/');
    expect(report.risks.anonymousDockerHub).toEqual({ pods: 1, containers: 1, items: [{ namespace: NS, pod: 'api-0', container: 'app', image: 'nginx', why: ['no tag'] }] });
  });

  it('rate-limited with a credential that is low on pulls', () => {
    const p = pod({ image: 'acme/app:1', message: CRIO.tooManyRequests('1', 'docker.io/acme/app'), pullSecrets: ['hub'] });
    const rc = credential('hub', ['https://index.docker.io/v1/'], {}, { rateLimit: { limit: 200, remaining: 3, windowSeconds: 21600, checkedAt: '2026-06-01T11:50:00Z' } });
    const { report, failure } = only(snapshot({ pods: [p], credentials: [rc], secrets: [ourSecret('hub', 'hub', ['https://index.docker.io/v1/'])] }));
    expect(failure.findings.map((f) => f.code)).toEqual(['rate-limit-low']);
    expect(failure.fix.summary).toContain('3 of 200 left');
    expect(report.risks.lowRateLimit).toEqual([{ credential: 'hub', limit: 200, remaining: 3, windowSeconds: 21600, checkedAt: '2026-06-01T11:50:00Z' }]);
    // Covered by a pull Secret: not an anonymous pull.
    expect(report.risks.anonymousDockerHub.containers).toBe(0);
  });

  it.each([
    ['x509', CONTAINERD.x509(GHCR_IMAGE, GHCR_URL), 'tls', /trust/],
    ['DNS', CONTAINERD.noSuchHost(GHCR_IMAGE, GHCR_URL, 'ghcr.io'), 'unreachable', /resolve and reach ghcr.io/],
    ['timeout', CONTAINERD.ioTimeout(GHCR_IMAGE, GHCR_URL, '1.2.3.4:443'), 'unreachable', /A pull Secret does not help/],
  ])('%s: a node problem, no credential fix', (_name, message, cause, fix) => {
    const { failure } = only(snapshot({ pods: [pod({ message })] }));
    expect(failure.cause).toBe(cause);
    expect(failure.fix.summary).toMatch(fix);
    expect(failure.fix.commands).toEqual([]);
  });

  it('an invalid image name', () => {
    const p = pod({ image: 'ghcr.io/Acme/api', reason: 'InvalidImageName', message: invalidImageName('ghcr.io/Acme/api') });
    const { failure } = only(snapshot({ pods: [p] }));
    expect(failure).toMatchObject({ cause: 'invalid-reference', waitingReason: 'InvalidImageName', findings: [{ code: 'invalid-reference' }] });
    expect(failure.registry).toBeUndefined();
    expect(failure.explanation).toContain('lowercase');
    expect(failure.fix.commands).toEqual([`kubectl -n ${NS} set image pod/api-0 app=IMAGE`]);
  });

  it('init and ephemeral containers, with their own Event field paths', () => {
    for (const containerType of ['initContainer', 'ephemeralContainer'] as const) {
      const p = pod({ reason: 'ImagePullBackOff', message: backOffPulling(GHCR_IMAGE), containerType });
      const fieldPath = containerType === 'initContainer' ? 'spec.initContainers{app}' : 'spec.ephemeralContainers{app}';
      const events = [
        event(p, failedToPull(GHCR_IMAGE, CONTAINERD.notFound(GHCR_IMAGE)), { fieldPath }),
        // Another container's Event and another component's are not this one's.
        event(p, failedToPull(GHCR_IMAGE, CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL)), { fieldPath: 'spec.containers{main}' }),
        event(p, failedToPull(GHCR_IMAGE, CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL)), { fieldPath, component: 'someone' }),
      ];
      const { failure } = only(snapshot({ pods: [p], events }));
      expect([failure.containerType, failure.cause]).toEqual([containerType, 'not-found']);
    }
  });
});

describe('diagnose: evidence, scope, exit status', () => {
  it('puts the Event the cause was read from first, verbatim', () => {
    const p = pod({ reason: 'ImagePullBackOff', message: backOffPulling(GHCR_IMAGE) });
    const failed = failedToPull(GHCR_IMAGE, CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL));
    const events = [event(p, ERROR_ERR_IMAGE_PULL, { at: '2026-06-01T11:59:30Z' }), event(p, failed, { at: '2026-06-01T11:59:00Z' })];
    const { failure } = only(snapshot({ pods: [p], events }));
    expect(failure.evidence[0]).toBe(`Event Failed from kubelet on node-1: ${failed}`);
    expect(failure.evidence).toContain(`waiting ImagePullBackOff: ${backOffPulling(GHCR_IMAGE)}`);
  });

  it('a healthy pod: exit 0, and a mutable Docker Hub tag is a risk only', () => {
    const healthy = pod({ image: 'nginx:latest', running: true });
    const pinned = pod({ name: 'pinned', image: 'nginx:1.27', running: true });
    const always = pod({ name: 'always', image: 'nginx:1.27', imagePullPolicy: 'Always', running: true });
    // The API server's default for a latest tag: the tag is the reason, not said twice.
    const defaulted = pod({ name: 'defaulted', image: 'redis', imagePullPolicy: 'Always', running: true });
    const report = diagnose(snapshot({ pods: [healthy, pinned, always, defaulted] }));
    expect(report.exitCode).toBe(0);
    expect(report.failures).toEqual([]);
    expect(report.risks.anonymousDockerHub.items.map((i) => [i.pod, i.why])).toEqual([
      ['always', ['imagePullPolicy Always']],
      ['api-0', ['latest tag']],
      ['defaulted', ['no tag']],
    ]);
    expect(renderText(report)).toContain('Rate-limit risk: 3 containers in 3 pods pull a mutable tag from Docker Hub');
  });

  it('a named pod that does not exist: exit 1 and a warning', () => {
    const report = diagnose(snapshot({ pods: [], scope: { namespace: NS, allNamespaces: false, pod: 'nope' } }));
    expect(report.exitCode).toBe(1);
    expect(report.warnings[0]).toBe(`pod nope not found in namespace ${NS}`);
  });

  it('keeps to the scope', () => {
    const elsewhere = { ...pod({ message: CONTAINERD.notFound(GHCR_IMAGE) }), metadata: { name: 'x', namespace: 'other', uid: 'u' } };
    expect(diagnose(snapshot({ pods: [elsewhere] })).failures).toEqual([]);
    expect(diagnose(snapshot({ pods: [elsewhere], scope: { allNamespaces: true } })).failures).toHaveLength(1);
  });

  it('the JSON document has the documented shape', () => {
    const report = diagnose(snapshot({ pods: [pod({ message: CONTAINERD.notFound(GHCR_IMAGE) })] }));
    const doc = JSON.parse(renderJson(report)) as Record<string, unknown>;
    expect(Object.keys(doc)).toEqual(['kind', 'version', 'scope', 'checkedAt', 'summary', 'failures', 'risks', 'warnings', 'exitCode']);
    expect(doc.summary).toEqual({ podsChecked: 1, failingPods: 1, failingContainers: 1, anonymousDockerHubPods: 0, lowRateLimitCredentials: 0 });
    const failure = (doc.failures as Record<string, unknown>[])[0]!;
    expect(Object.keys(failure).sort()).toEqual(
      ['namespace', 'pod', 'container', 'containerType', 'image', 'registry', 'waitingReason', 'cause', 'explanation', 'evidence', 'serviceAccount', 'pullSecrets', 'candidates', 'findings', 'fix'].sort(),
    );
  });
});

describe('recreateCommands', () => {
  it.each([
    [{ owner: { kind: 'ReplicaSet', name: 'web-abc12' }, labels: { 'pod-template-hash': 'abc12' } }, 'kubectl -n shop rollout restart deployment/web'],
    [{ owner: { kind: 'ReplicaSet', name: 'standalone' } }, 'kubectl -n shop delete pod api-0'],
    [{ owner: { kind: 'Job', name: 'migrate' } }, 'kubectl -n shop delete pod api-0'],
    [{}, 'kubectl -n shop get pod api-0 -o yaml | kubectl replace --force -f -'],
  ])('%j', (options, command) => {
    expect(recreateCommands(pod(options))).toEqual([command]);
  });
});

describe('summarizeSecret keeps the auths keys and nothing of the data', () => {
  const config = { auths: { 'ghcr.io': { username: 'u', password: 'pw-secret-1', auth: Buffer.from('u:pw-secret-1').toString('base64') }, 'https://index.docker.io/v1/': { auth: 'eDp5' } } };
  const secret: V1Secret = {
    metadata: { name: 'pull', namespace: NS, labels: { a: 'b' } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(JSON.stringify(config)).toString('base64') },
  };

  it('dockerconfigjson', () => {
    const summary = summarizeSecret(secret);
    expect(summary).toEqual({ namespace: NS, name: 'pull', type: 'kubernetes.io/dockerconfigjson', labels: { a: 'b' }, annotations: {}, authKeys: ['ghcr.io', 'https://index.docker.io/v1/'] });
    expect(JSON.stringify(summary)).not.toMatch(/pw-secret-1|dTpwdy1zZWNyZXQtMQ|eDp5/);
  });

  it('legacy dockercfg, and data that is not a docker config', () => {
    expect(summarizeSecret({ metadata: { name: 'old', namespace: NS }, data: { '.dockercfg': Buffer.from(JSON.stringify({ 'quay.io': { auth: 'x' } })).toString('base64') } }).authKeys).toEqual(['quay.io']);
    const broken = summarizeSecret({ metadata: { name: 'bad', namespace: NS }, data: { '.dockerconfigjson': Buffer.from('{"auths": pw-secret-2').toString('base64') } });
    expect(broken).toMatchObject({ authKeys: [], unreadable: 'its docker config is not valid JSON' });
    expect(JSON.stringify(broken)).not.toContain('pw-secret-2');
  });
});
