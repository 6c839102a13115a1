/**
 * `regcred doctor` end to end, against the local control plane with the real operator running. There is
 * no kubelet: each test creates Pods through the API (they stay Pending), then writes what a kubelet
 * writes after a failed pull — the container status through the `status` subresource (state.waiting with
 * the reason and message) and Events (type Warning, reason Failed, source kubelet, involvedObject the
 * container's fieldPath) — with the texts of test/support/kubelet-messages.ts. The CLI runs as a child
 * process, as a person (or kubectl, as the plugin) runs it.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { PatchStrategy, setHeaderOptions, type KubernetesObject, type V1Pod } from '@kubernetes/client-node';
import type { DoctorReport } from '../../src/doctor/types.js';
import { adminConnection, kubeconfigPath, REPO_ROOT, startOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { condition, getCredential, pullSecretNames, readSecret, readServiceAccount, waitForCondition, waitForPullSecrets, TestResources } from '../support/fixtures.js';
import { startRegistry } from '../support/registry.js';
import {
  backOffPulling,
  CONTAINERD,
  CRIO,
  ERROR_ERR_IMAGE_PULL,
  ERROR_IMAGE_PULL_BACK_OFF,
  ERROR_INVALID_IMAGE_NAME,
  failedToPull,
  invalidImageName,
  viaGrpc,
} from '../support/kubelet-messages.js';

const CLI = resolve(REPO_ROOT, 'dist', 'cli.js');
const MERGE_PATCH = setHeaderOptions('Content-Type', PatchStrategy.MergePatch);
const GHCR_IMAGE = 'ghcr.io/acme/private-api:1.4.2';
const GHCR_URL = 'https://ghcr.io/v2/acme/private-api/manifests/1.4.2';
const PASSWORD = `pw-${uniqueName('doctor')}`;

let operator: OperatorProcess;
const resources = new TestResources();
/** A namespace the credential targets, its credential and the Secret it publishes there. */
let targeted: string;
let credentialName: string;
let secretName: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end and keeps what it printed. */
function run(command: string, args: string[]): Promise<Run> {
  return new Promise((done) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

function doctor(args: string[]): Promise<Run> {
  return run(process.execPath, [CLI, 'doctor', '--kubeconfig', kubeconfigPath(), ...args]);
}

async function doctorJson(args: string[]): Promise<{ code: number | null; report: DoctorReport }> {
  const run = await doctor([...args, '-o', 'json']);
  expect(run.stderr).toBe('');
  return { code: run.code, report: JSON.parse(run.stdout) as DoctorReport };
}

/** A command doctor printed, run as printed, pointed at the test cluster. */
function runShell(command: string): Promise<Run> {
  return run('sh', ['-c', command.replaceAll('kubectl ', `kubectl --kubeconfig ${kubeconfigPath()} `)]);
}

async function defaultServiceAccountOf(namespace: string): Promise<void> {
  await waitFor(`${namespace}/default ServiceAccount`, () => readServiceAccount(namespace));
}

interface PodOptions {
  image?: string;
  init?: boolean;
  owner?: { apiVersion: string; kind: string; name: string; uid: string };
  labels?: Record<string, string>;
  imagePullPolicy?: string;
}

async function createPod(namespace: string, prefix: string, options: PodOptions = {}): Promise<V1Pod> {
  const container = { name: 'app', image: options.image ?? GHCR_IMAGE, ...(options.imagePullPolicy ? { imagePullPolicy: options.imagePullPolicy } : {}) };
  return adminConnection().core.createNamespacedPod({
    namespace,
    body: {
      metadata: {
        name: uniqueName(prefix),
        labels: options.labels ?? {},
        ...(options.owner ? { ownerReferences: [{ ...options.owner, controller: true }] } : {}),
      },
      spec: options.init
        ? { initContainers: [container], containers: [{ name: 'main', image: 'ghcr.io/acme/main:1' }] }
        : { containers: [container] },
    },
  });
}

/**
 * What the kubelet writes after a failed pull: the waiting state, and its Events in the order it records
 * them (image_manager.go: `Failed to pull image …`, then kuberuntime_container.go: `Error: ErrImagePull`).
 */
async function failPull(pod: V1Pod, reason: 'ErrImagePull' | 'ImagePullBackOff' | 'InvalidImageName', waitingMessage: string, eventMessages: string[], init = false): Promise<void> {
  const namespace = pod.metadata!.namespace!;
  const name = pod.metadata!.name!;
  const image = (init ? pod.spec!.initContainers! : pod.spec!.containers)[0]!.image!;
  const waiting = { name: 'app', image, imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason, message: waitingMessage } } };
  const running = { name: 'main', image: 'ghcr.io/acme/main:1', imageID: '', ready: false, restartCount: 0, started: false, state: { waiting: { reason: 'PodInitializing' } } };
  await adminConnection().core.patchNamespacedPodStatus(
    {
      name,
      namespace,
      body: { status: init ? { phase: 'Pending', initContainerStatuses: [waiting], containerStatuses: [running] } : { phase: 'Pending', containerStatuses: [waiting] } },
    },
    MERGE_PATCH,
  );
  const now = new Date();
  for (const [i, message] of eventMessages.entries()) {
    const at = new Date(now.getTime() - (eventMessages.length - i) * 1000);
    await adminConnection().core.createNamespacedEvent({
      namespace,
      body: {
        metadata: { name: `${name}.${uniqueName('ev')}` },
        type: 'Warning',
        reason: 'Failed',
        message,
        source: { component: 'kubelet', host: 'node-a' },
        involvedObject: { kind: 'Pod', name, namespace, uid: pod.metadata!.uid!, apiVersion: 'v1', fieldPath: `${init ? 'spec.initContainers' : 'spec.containers'}{app}` },
        reportingComponent: 'kubelet',
        reportingInstance: 'node-a',
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      },
    });
  }
}

/** The failure doctor reports for one pod, from -o json. */
async function diagnosisOf(namespace: string, pod: V1Pod): Promise<{ code: number | null; failure: DoctorReport['failures'][number]; report: DoctorReport }> {
  const { code, report } = await doctorJson(['-n', namespace, pod.metadata!.name!]);
  expect(report.failures).toHaveLength(1);
  return { code, failure: report.failures[0]!, report };
}

beforeAll(async () => {
  operator = startOperator(['--resync-seconds', '600']);
  await operator.waitForLog((l) => l.msg === 'caches synced');
  targeted = await resources.namespace('doc-t');
  await defaultServiceAccountOf(targeted);
  const source = await resources.source({ username: 'robot', password: PASSWORD });
  secretName = uniqueName('ghcr-pull');
  credentialName = await resources.credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: source } }, secretName, namespaces: { names: [targeted] } }, 'doc-ghcr');
  await waitForCondition(credentialName, 'Ready', 'True');
  // The operator checks ghcr.io too; it cannot reach it from here, and says so in Verified.
  await waitFor('Verified=Unknown (Unreachable)', async () => condition(await getCredential(credentialName), 'Verified')?.reason === 'Unreachable');
  await waitForPullSecrets(targeted, [secretName]);
}, 120_000);

afterAll(async () => {
  await resources.deleteCredentials();
  await operator.stop();
  await resources.deleteSourcesAndNamespaces();
}, 120_000);

describe('regcred doctor: one cause at a time', () => {
  it("the local control plane's ServiceAccount admission copies the ServiceAccount's imagePullSecrets into a new pod", async () => {
    const pod = await createPod(targeted, 'admitted');
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: secretName }]);
  });

  it('unauthorized, with the RegistryCredential involved: exit 1, the Event as evidence, the credential named', async () => {
    const pod = await createPod(targeted, 'unauth');
    const failed = failedToPull(GHCR_IMAGE, viaGrpc(CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL)));
    await failPull(pod, 'ImagePullBackOff', backOffPulling(GHCR_IMAGE), [failed, ERROR_ERR_IMAGE_PULL, ERROR_IMAGE_PULL_BACK_OFF]);

    const { code, failure } = await diagnosisOf(targeted, pod);
    expect(code).toBe(1);
    expect(failure).toMatchObject({
      cause: 'unauthorized',
      registry: 'ghcr.io',
      waitingReason: 'ImagePullBackOff',
      pullSecrets: [{ name: secretName, exists: true, coversImage: true, managedBy: credentialName }],
      candidates: [credentialName],
      credential: { name: credentialName, secretName, targetsNamespace: true, ready: { status: 'True' } },
    });
    expect(failure.evidence[0]).toBe(`Event Failed from kubelet on node-a: ${failed}`);
    expect(failure.fix.commands).toEqual([`kubectl describe registrycredential ${credentialName}`]);

    const text = await doctor(['-n', targeted, pod.metadata!.name!]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain(`${targeted}/${pod.metadata!.name} (container app): cannot pull ${GHCR_IMAGE} [ImagePullBackOff]`);
    expect(text.stdout).toMatch(/cause: +unauthorized: ghcr\.io refused the pull/);
    expect(text.stdout).toContain(`RegistryCredential ${credentialName} (Secret ${secretName}, Ready=True, Verified=Unknown (Unreachable))`);
    expect(text.stdout + text.stderr).not.toContain(PASSWORD);
  });

  it('a credential a real registry refuses: the operator\'s Verified=False (Unauthorized) is part of the diagnosis', async () => {
    const registry = await startRegistry({ puller: `right-${PASSWORD}` });
    try {
      const ns = await resources.namespace('doc-v');
      await defaultServiceAccountOf(ns);
      const source = await resources.source({ username: 'puller', password: PASSWORD });
      const secret = uniqueName('reg-pull');
      const name = await resources.credential({ static: { registry: registry.host, credentialsSecretRef: { name: source } }, secretName: secret, namespaces: { names: [ns] } }, 'doc-verify');
      await waitFor('Verified=False (Unauthorized)', async () => condition(await getCredential(name), 'Verified')?.reason === 'Unauthorized');
      await waitForPullSecrets(ns, [secret]);
      const image = `${registry.host}/team/app:latest`;
      const pod = await createPod(ns, 'refused', { image });
      expect(pod.spec?.imagePullSecrets).toEqual([{ name: secret }]);
      const failed = failedToPull(image, viaGrpc(CONTAINERD.unauthorized(image, `http://${registry.host}/v2/team/app/manifests/latest`)));
      await failPull(pod, 'ImagePullBackOff', backOffPulling(image), [failed, ERROR_ERR_IMAGE_PULL, ERROR_IMAGE_PULL_BACK_OFF]);

      const { code, failure } = await diagnosisOf(ns, pod);
      expect(code).toBe(1);
      expect(failure.cause).toBe('unauthorized');
      expect(failure.credential).toMatchObject({ name, verified: { status: 'False', reason: 'Unauthorized' } });
      expect(failure.findings.map((f) => f.code)).toContain('verification-failed');
      const text = await doctor(['-n', ns, pod.metadata!.name!]);
      expect(text.stdout).toContain(`RegistryCredential ${name} (Secret ${secret}, Ready=True, Verified=False (Unauthorized))`);
      expect(text.stdout + text.stderr).not.toContain(PASSWORD);
    } finally {
      await registry.stop();
    }
  }, 90_000);

  it('denied (403)', async () => {
    const pod = await createPod(targeted, 'denied');
    await failPull(pod, 'ErrImagePull', CONTAINERD.forbidden(GHCR_IMAGE, GHCR_URL), [failedToPull(GHCR_IMAGE, CONTAINERD.forbidden(GHCR_IMAGE, GHCR_URL)), ERROR_ERR_IMAGE_PULL]);
    const { code, failure } = await diagnosisOf(targeted, pod);
    expect([code, failure.cause]).toEqual([1, 'denied']);
    expect(failure.fix.summary).toContain('read access to ghcr.io/acme/private-api');
  });

  it('not found (CRI-O wording), in an init container', async () => {
    const pod = await createPod(targeted, 'notfound', { init: true });
    const message = CRIO.manifestUnknown('1.4.2', 'ghcr.io/acme/private-api');
    await failPull(pod, 'ErrImagePull', message, [failedToPull(GHCR_IMAGE, message), ERROR_ERR_IMAGE_PULL], true);
    const { code, failure } = await diagnosisOf(targeted, pod);
    expect([code, failure.cause, failure.containerType]).toEqual([1, 'not-found', 'initContainer']);
    expect(failure.fix.commands).toEqual([`kubectl -n ${targeted} set image pod/${pod.metadata!.name} app=IMAGE`]);
  });

  it('toomanyrequests from Docker Hub, and the rate-limit summary', async () => {
    const ns = await resources.namespace('doc-rate');
    await defaultServiceAccountOf(ns);
    const pod = await createPod(ns, 'hub', { image: 'nginx' });
    await createPod(ns, 'hub-latest', { image: 'library/redis:latest' });
    await createPod(ns, 'hub-pinned', { image: 'redis:7.2' });
    const ref = 'docker.io/library/nginx:latest';
    const failed = failedToPull('nginx', CONTAINERD.tooManyRequests(ref, 'https://registry-1.docker.io/v2/library/nginx/manifests/latest'));
    await failPull(pod, 'ErrImagePull', failed.replace(/^Failed to pull image "nginx": /, ''), [failed, ERROR_ERR_IMAGE_PULL]);

    const { code, report } = await doctorJson(['-n', ns]);
    expect(code).toBe(1);
    expect(report.failures.map((f) => [f.pod, f.cause])).toEqual([[pod.metadata!.name, 'rate-limited']]);
    expect(report.failures[0]!.fix.commands[1]).toContain('registry: https://index.docker.io/v1/');
    expect(report.risks.anonymousDockerHub.pods).toBe(2);
    expect(report.risks.anonymousDockerHub.items.map((i) => i.why).sort()).toEqual([['latest tag'], ['no tag']]);
    expect(report.summary).toMatchObject({ podsChecked: 3, failingPods: 1, anonymousDockerHubPods: 2 });

    const text = await doctor(['-n', ns]);
    expect(text.stdout).toContain('Rate-limit risk: 2 containers in 2 pods pull a mutable tag from Docker Hub with no pull Secret for it (anonymous pulls: 100 pulls per 6 hours per egress IP');
  });

  it.each([
    ['x509', (image: string) => CONTAINERD.x509(image, GHCR_URL), 'tls'],
    ['DNS', (image: string) => CONTAINERD.noSuchHost(image, GHCR_URL, 'ghcr.io'), 'unreachable'],
    ['timeout', (image: string) => CONTAINERD.ioTimeout(image, GHCR_URL, '140.82.113.33:443'), 'unreachable'],
  ])('%s: a node problem, no command', async (prefix, message, cause) => {
    const pod = await createPod(targeted, prefix.toLowerCase());
    await failPull(pod, 'ErrImagePull', message(GHCR_IMAGE), [failedToPull(GHCR_IMAGE, message(GHCR_IMAGE)), ERROR_ERR_IMAGE_PULL]);
    const { code, failure } = await diagnosisOf(targeted, pod);
    expect([code, failure.cause, failure.fix.commands]).toEqual([1, cause, []]);
  });

  it('an invalid image name', async () => {
    const image = 'ghcr.io/Acme/api:1';
    const pod = await createPod(targeted, 'invalid', { image });
    await failPull(pod, 'InvalidImageName', invalidImageName(image), [ERROR_INVALID_IMAGE_NAME]);
    const { code, failure } = await diagnosisOf(targeted, pod);
    expect([code, failure.cause, failure.findings.map((f) => f.code)]).toEqual([1, 'invalid-reference', ['invalid-reference']]);
    expect(failure.explanation).toContain('lowercase');
  });

  it('no RegistryCredential covers the registry: a kubectl apply sketch', async () => {
    const image = 'quay.io/acme/tool:3';
    const pod = await createPod(targeted, 'quay', { image });
    const message = CONTAINERD.unauthorized(image, 'https://quay.io/v2/acme/tool/manifests/3');
    await failPull(pod, 'ErrImagePull', message, [failedToPull(image, message)]);
    const { code, failure } = await diagnosisOf(targeted, pod);
    expect([code, failure.cause, failure.findings.map((f) => f.code), failure.candidates]).toEqual([1, 'unauthorized', ['no-credential-covers-registry'], []]);
    expect(failure.fix.commands[1]).toMatch(/^kubectl apply -f - <<'EOF'\n[\s\S]*registry: quay\.io[\s\S]*names: \[doc-t-[0-9a-f]+\]\nEOF$/);
  });

  it('the Secret is missing because the namespace is not targeted: the printed patch fixes it', async () => {
    const ns = await resources.namespace('doc-u');
    await defaultServiceAccountOf(ns);
    const pod = await createPod(ns, 'untargeted');
    const failed = failedToPull(GHCR_IMAGE, CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL));
    await failPull(pod, 'ErrImagePull', CONTAINERD.unauthorized(GHCR_IMAGE, GHCR_URL), [failed, ERROR_ERR_IMAGE_PULL]);

    const { code, failure } = await diagnosisOf(ns, pod);
    expect(code).toBe(1);
    expect(failure.credential).toMatchObject({ name: credentialName, targetsNamespace: false });
    expect(failure.findings.map((f) => f.code)).toEqual(['namespace-not-targeted']);
    expect(failure.findings[0]!.message).toContain('spec.namespaces.names does not list it');
    const patch = failure.fix.commands[0]!;
    expect(patch).toBe(`kubectl patch registrycredential ${credentialName} --type=json -p '[{"op":"add","path":"/spec/namespaces/names/-","value":"${ns}"}]'`);
    expect(failure.fix.commands[1]).toBe(`kubectl -n ${ns} get pod ${pod.metadata!.name} -o yaml | kubectl replace --force -f -`);

    // Run the fix as printed: the operator publishes the Secret there and patches the ServiceAccount.
    const applied = await runShell(patch);
    expect(applied).toMatchObject({ code: 0 });
    await waitFor(`Secret ${secretName} in ${ns}`, () => readSecret(ns, secretName));
    await waitForPullSecrets(ns, [secretName]);
    // The pod is still the old one: now the admission race.
    const again = await diagnosisOf(ns, pod);
    expect(again.failure.findings.map((f) => f.code)).toEqual(['pod-predates-pull-secret']);
  });
});

describe('regcred doctor: the admission race', () => {
  it('a pod created before its ServiceAccount carried the entry: recreate it (rollout restart for a Deployment, replace for a bare pod)', async () => {
    const ns = await resources.namespace('doc-race');
    await defaultServiceAccountOf(ns);
    const admin = adminConnection();
    // No controllers run here: a Deployment and its ReplicaSet are only owners, for the owner chain.
    const deployment: KubernetesObject = await admin.objects.create({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: ns },
      spec: { replicas: 0, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: GHCR_IMAGE }] } } },
    });
    const replicaSet: KubernetesObject = await admin.objects.create({
      apiVersion: 'apps/v1',
      kind: 'ReplicaSet',
      metadata: { name: 'web-6f9c8d', namespace: ns, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: deployment.metadata?.uid ?? '', controller: true }] },
      spec: { replicas: 0, selector: { matchLabels: { app: 'web', 'pod-template-hash': '6f9c8d' } }, template: { metadata: { labels: { app: 'web', 'pod-template-hash': '6f9c8d' } }, spec: { containers: [{ name: 'app', image: GHCR_IMAGE }] } } },
    });
    const owned = await createPod(ns, 'web-6f9c8d', {
      labels: { app: 'web', 'pod-template-hash': '6f9c8d' },
      owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6f9c8d', uid: replicaSet.metadata?.uid ?? '' },
    });
    const bare = await createPod(ns, 'bare');
    expect([owned.spec?.imagePullSecrets, bare.spec?.imagePullSecrets]).toEqual([undefined, undefined]);

    // Only now the credential, and the operator patches the ServiceAccount.
    const source = await resources.source({ username: 'robot', password: PASSWORD });
    const raceSecret = uniqueName('race-pull');
    const name = await resources.credential({ static: { registry: 'ghcr.io', credentialsSecretRef: { name: source } }, secretName: raceSecret, namespaces: { names: [ns] } }, 'doc-race');
    await waitForPullSecrets(ns, [raceSecret]);
    expect(pullSecretNames(await readServiceAccount(ns))).toEqual([raceSecret]);

    const message = CONTAINERD.pullAccessDenied('ghcr.io/acme/private-api:1.4.2');
    for (const pod of [owned, bare]) await failPull(pod, 'ErrImagePull', message, [failedToPull(GHCR_IMAGE, message), ERROR_ERR_IMAGE_PULL]);

    const { code, report } = await doctorJson(['-n', ns]);
    expect(code).toBe(1);
    const byPod = new Map(report.failures.map((f) => [f.pod, f]));
    for (const pod of [owned, bare]) {
      const failure = byPod.get(pod.metadata!.name!)!;
      expect(failure).toMatchObject({ cause: 'not-found-or-unauthorized', credential: { name, secretName: raceSecret } });
      expect(failure.findings.map((f) => f.code)).toEqual(['pod-predates-pull-secret']);
      expect(failure.findings[0]!.message).toContain(`its ServiceAccount default does now`);
    }
    expect(byPod.get(owned.metadata!.name!)!.fix.commands).toEqual([`kubectl -n ${ns} rollout restart deployment/web`]);
    const replace = byPod.get(bare.metadata!.name!)!.fix.commands;
    expect(replace).toEqual([`kubectl -n ${ns} get pod ${bare.metadata!.name} -o yaml | kubectl replace --force -f -`]);

    const text = await doctor(['-n', ns]);
    expect(text.stdout).toContain('does not list pull Secret');
    expect(text.stdout).toContain(`kubectl -n ${ns} rollout restart deployment/web`);
    expect(text.stdout).toContain('Checked 2 pods');

    // Run the printed fix for the bare pod: the new pod is admitted with the ServiceAccount's pull Secret.
    expect(await runShell(replace[0]!)).toMatchObject({ code: 0 });
    const recreated = await waitFor(`${bare.metadata!.name} recreated`, async () => {
      const now = await admin.core.readNamespacedPod({ namespace: ns, name: bare.metadata!.name! });
      return now.metadata?.uid !== bare.metadata?.uid ? now : undefined;
    });
    expect(recreated.spec?.imagePullSecrets).toEqual([{ name: raceSecret }]);
    // Nothing waits on a pull there any more (the new pod has no status from a kubelet): exit 0 for it.
    const after = await doctorJson(['-n', ns, bare.metadata!.name!]);
    expect([after.code, after.report.failures]).toEqual([0, []]);
  }, 90_000);
});

describe('regcred doctor: healthy, scope and usage', () => {
  it('a healthy pod and a healthy namespace: exit 0', async () => {
    const ns = await resources.namespace('doc-ok');
    await defaultServiceAccountOf(ns);
    const pod = await createPod(ns, 'fine', { image: 'ghcr.io/acme/ok@sha256:' + 'a'.repeat(64) });
    const one = await doctor(['-n', ns, pod.metadata!.name!]);
    expect(one).toEqual({ code: 0, stdout: `Checked 1 pod in namespace ${ns}: none is failing to pull an image.\n`, stderr: '' });
    const all = await doctorJson(['-n', ns]);
    expect([all.code, all.report.summary.podsChecked, all.report.failures]).toEqual([0, 1, []]);
  });

  it('a pod name that does not exist: exit 1, said', async () => {
    const run = await doctor(['-n', targeted, 'no-such-pod']);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(`warning: pod no-such-pod not found in namespace ${targeted}`);
  });

  it('-A covers every namespace', async () => {
    const { code, report } = await doctorJson(['-A']);
    expect(code).toBe(1);
    expect(report.scope).toEqual({ namespace: null, allNamespaces: true, pod: null });
    const namespaces = new Set(report.failures.map((f) => f.namespace));
    expect(namespaces.has(targeted)).toBe(true);
    expect([...namespaces].some((n) => n.startsWith('doc-rate-'))).toBe(true);
  });

  it('defaults to the namespace of the kubeconfig context', async () => {
    const { report } = await doctorJson([]);
    expect(report.scope.namespace).toBe('default');
  });

  it.each([
    [['-A', 'some-pod'], /a POD name \(some-pod\) and -A\/--all-namespaces do not go together/],
    [['-o', 'yaml'], /-o "yaml" is not an output format doctor writes: use -o json/],
    [['--frobnicate'], /unknown option '--frobnicate'/],
    [['-n', 'Bad_NS'], /-n "Bad_NS" is not a namespace name/],
    [['-n', 'a', '-A'], /-n\/--namespace and -A\/--all-namespaces do not go together/],
    [['--context', 'nope'], /context "nope" is not in the kubeconfig/],
  ])('usage error %j: exit 2, saying what to fix', async (args, message) => {
    const run = await doctor(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(message);
  });
});
