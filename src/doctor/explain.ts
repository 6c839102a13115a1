/**
 * The diagnosis: a pure function of the objects `regcred doctor` read (src/doctor/scan.ts), table-tested
 * in test/unit/doctor-explain.test.ts.
 *
 * For each container waiting on a failed pull: classify the cause from the kubelet's words, find the pull
 * Secrets the kubelet would try for the image (all of the pod's spec.imagePullSecrets in one keyring, in
 * order) and the RegistryCredentials whose status.registries cover it (the same matching rules), then walk
 * the chain from a credential to the pod — targeted namespace, Secret written and current, ServiceAccount
 * patched, pod created after that — and stop at the first broken link: that is the fix.
 */
import type { CoreV1Event, V1Container, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import type { RegistryCredential } from '../api/types.js';
import { CREDENTIAL_LABEL, EXPIRES_AT_ANNOTATION, MANAGED_BY_LABEL, MANAGED_BY_VALUE, SYSTEM_NAMESPACES } from '../api/constants.js';
import { targetNamespaces } from '../desired/namespaces.js';
import { Keyring } from '../registry/keyring.js';
import { DOCKER_HUB_DOMAIN, parseImageReference, type ImageReference } from '../registry/reference.js';
import { getCondition } from '../status/conditions.js';
import { classifyPullFailure, CREDENTIAL_CAUSES, isInformative, isPullFailureReason, trimMessage, type Cause, type PullFailureReason } from './classify.js';
import type {
  AnonymousHubPull,
  ContainerDiagnosis,
  ContainerType,
  CredentialSummary,
  DoctorReport,
  DoctorSnapshot,
  Finding,
  Fix,
  LowRateLimit,
  PodPullSecret,
  PullSecretSummary,
} from './types.js';

/** Docker Hub's anonymous pull limit, per egress IP (https://docs.docker.com/docker-hub/usage/). */
export const ANONYMOUS_HUB_LIMIT = '100 pulls per 6 hours per egress IP';
/** A Docker Hub credential with less than this share of its limit left is flagged. */
export const LOW_RATE_LIMIT_SHARE = 0.1;
const MAX_EVIDENCE = 3;

const FIELD_PATH_PREFIX: Record<ContainerType, string> = {
  container: 'spec.containers',
  initContainer: 'spec.initContainers',
  ephemeralContainer: 'spec.ephemeralContainers',
};

/** The Event reasons the kubelet records about a pull (image_manager.go, kuberuntime_container.go). */
const PULL_EVENT_REASONS = new Set(['Failed', 'InspectFailed', 'BackOff']);

export function diagnose(snapshot: DoctorSnapshot): DoctorReport {
  const pods = snapshot.pods.filter((pod) => inScope(pod, snapshot)).sort(byNamespaceAndName);
  const failures: ContainerDiagnosis[] = [];
  for (const pod of pods) {
    for (const waiting of failingContainers(pod)) failures.push(diagnoseContainer(pod, waiting, snapshot));
  }
  const anonymous = anonymousHubPulls(pods, snapshot);
  const lowRateLimit = lowRateLimits(snapshot);
  const podNotFound = snapshot.scope.pod !== undefined && pods.length === 0;
  const warnings = [...snapshot.warnings];
  if (podNotFound) warnings.unshift(`pod ${snapshot.scope.pod} not found in namespace ${snapshot.scope.namespace ?? '?'}`);
  const failingPods = new Set(failures.map((f) => `${f.namespace}/${f.pod}`)).size;
  return {
    kind: 'RegcredDoctorReport',
    version: 1,
    scope: { namespace: snapshot.scope.namespace ?? null, allNamespaces: snapshot.scope.allNamespaces, pod: snapshot.scope.pod ?? null },
    checkedAt: snapshot.now.toISOString(),
    summary: {
      podsChecked: pods.length,
      failingPods,
      failingContainers: failures.length,
      anonymousDockerHubPods: new Set(anonymous.map((a) => `${a.namespace}/${a.pod}`)).size,
      lowRateLimitCredentials: lowRateLimit.length,
    },
    failures,
    risks: {
      anonymousDockerHub: { pods: new Set(anonymous.map((a) => `${a.namespace}/${a.pod}`)).size, containers: anonymous.length, items: anonymous },
      lowRateLimit,
    },
    warnings,
    exitCode: failures.length > 0 || podNotFound ? 1 : 0,
  };
}

function inScope(pod: V1Pod, snapshot: DoctorSnapshot): boolean {
  const { scope } = snapshot;
  if (!scope.allNamespaces && pod.metadata?.namespace !== scope.namespace) return false;
  return scope.pod === undefined || pod.metadata?.name === scope.pod;
}

function byNamespaceAndName(a: V1Pod, b: V1Pod): number {
  return `${a.metadata?.namespace}/${a.metadata?.name}`.localeCompare(`${b.metadata?.namespace}/${b.metadata?.name}`);
}

interface WaitingContainer {
  name: string;
  type: ContainerType;
  image: string;
  reason: PullFailureReason;
  message?: string;
}

/** Containers of every kind whose status waits on a failed pull, in spec order. */
export function failingContainers(pod: V1Pod): WaitingContainer[] {
  const out: WaitingContainer[] = [];
  const kinds: [ContainerType, { name: string; image?: string }[] | undefined, { name: string; image?: string; state?: { waiting?: { reason?: string; message?: string } } }[] | undefined][] = [
    ['initContainer', pod.spec?.initContainers, pod.status?.initContainerStatuses],
    ['container', pod.spec?.containers, pod.status?.containerStatuses],
    ['ephemeralContainer', pod.spec?.ephemeralContainers, pod.status?.ephemeralContainerStatuses],
  ];
  for (const [type, specs, statuses] of kinds) {
    for (const status of statuses ?? []) {
      const waiting = status.state?.waiting;
      if (!isPullFailureReason(waiting?.reason)) continue;
      const spec = specs?.find((c) => c.name === status.name);
      out.push({
        name: status.name,
        type,
        // The spec's image is the one the kubelet pulls; the status may show a resolved form.
        image: spec?.image ?? status.image ?? '',
        reason: waiting.reason,
        ...(waiting.message ? { message: waiting.message } : {}),
      });
    }
  }
  return out;
}

/** The kubelet's Events about one container of the pod, newest first. */
export function containerEvents(events: readonly CoreV1Event[], pod: V1Pod, container: { name: string; type: ContainerType }): CoreV1Event[] {
  const fieldPath = `${FIELD_PATH_PREFIX[container.type]}{${container.name}}`;
  const uid = pod.metadata?.uid;
  return events
    .filter((event) => {
      const object = event.involvedObject;
      if (object.kind !== 'Pod' || object.namespace !== pod.metadata?.namespace || object.name !== pod.metadata?.name) return false;
      // A pod of the same name from before (a StatefulSet's) has another uid.
      if (uid && object.uid && object.uid !== uid) return false;
      if (object.fieldPath !== fieldPath) return false;
      const component = event.source?.component ?? event.reportingComponent;
      return component === 'kubelet' && PULL_EVENT_REASONS.has(event.reason ?? '');
    })
    .sort((a, b) => eventTime(b) - eventTime(a));
}

function eventTime(event: CoreV1Event): number {
  const t = event.lastTimestamp ?? event.eventTime ?? event.firstTimestamp ?? event.metadata?.creationTimestamp;
  return t ? new Date(t).getTime() : 0;
}

function eventLine(event: CoreV1Event): string {
  const count = event.count && event.count > 1 ? ` (x${event.count})` : '';
  const node = event.source?.host ? ` on ${event.source.host}` : '';
  return `Event ${event.reason}${count} from kubelet${node}: ${trimMessage(event.message ?? '')}`;
}

function secretKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function diagnoseContainer(pod: V1Pod, waiting: WaitingContainer, snapshot: DoctorSnapshot): ContainerDiagnosis {
  const namespace = pod.metadata?.namespace ?? '';
  const podName = pod.metadata?.name ?? '';
  const events = containerEvents(snapshot.events, pod, waiting);
  const classification = classifyPullFailure({
    waitingReason: waiting.reason,
    ...(waiting.message !== undefined ? { waitingMessage: waiting.message } : {}),
    eventMessages: events.map((e) => e.message ?? ''),
  });
  const evidence = buildEvidence(events, waiting, classification.message);
  const parsed = parseImageReference(waiting.image);
  const ref = parsed.ok ? parsed.value : undefined;
  const cause: Cause = parsed.ok ? classification.cause : 'invalid-reference';
  const serviceAccountName = pod.spec?.serviceAccountName ?? 'default';
  const sa = snapshot.serviceAccounts.get(secretKey(namespace, serviceAccountName)) ?? undefined;

  const podSecrets = podPullSecrets(pod, ref, snapshot);
  const candidates = ref ? coveringCredentials(ref, snapshot.credentials) : [];
  const involved = pickInvolved(candidates, podSecrets, namespace, snapshot);
  const credential = involved ? summarizeCredential(involved, namespace, snapshot) : undefined;

  const context: Context = { pod, namespace, podName, container: waiting, ref, cause, sa, serviceAccountName, podSecrets, involved, credential, snapshot };
  const { findings, fix } = walkChain(context);
  return {
    namespace,
    pod: podName,
    container: waiting.name,
    containerType: waiting.type,
    image: waiting.image,
    ...(ref ? { registry: ref.domain } : {}),
    waitingReason: waiting.reason,
    cause,
    explanation: explainCause(cause, ref, parsed.ok ? undefined : parsed.message),
    evidence,
    serviceAccount: serviceAccountName,
    pullSecrets: podSecrets,
    ...(credential ? { credential } : {}),
    candidates: candidates.map((c) => c.metadata.name),
    findings,
    fix,
  };
}

/**
 * The message the cause was read from first, then the other informative ones (newest first), then the
 * waiting state; the kubelet's bare "Error: ErrImagePull" lines only when nothing better was written.
 */
function buildEvidence(events: CoreV1Event[], waiting: WaitingContainer, classified: string | undefined): string[] {
  const lines: { text: string; score: number }[] = [];
  const seen = new Set<string>();
  for (const event of events) {
    const message = event.message ?? '';
    if (seen.has(message)) continue;
    seen.add(message);
    lines.push({ text: eventLine(event), score: message === classified ? 3 : isInformative(message) ? 2 : 0 });
  }
  if (waiting.message && !seen.has(waiting.message)) {
    lines.push({ text: `waiting ${waiting.reason}: ${trimMessage(waiting.message)}`, score: waiting.message === classified ? 3 : 1 });
  } else if (!waiting.message) {
    lines.push({ text: `waiting ${waiting.reason} (no message)`, score: 1 });
  }
  const informative = lines.some((line) => line.score >= 2);
  // Stable: among equals, the newest Event first.
  return lines
    .map((line, index) => ({ ...line, index }))
    .filter((line) => !informative || line.score > 0)
    .sort((a, b) => b.score - a.score || a.index - b.index)
    .slice(0, MAX_EVIDENCE)
    .map((line) => line.text);
}

function podPullSecrets(pod: V1Pod, ref: ImageReference | undefined, snapshot: DoctorSnapshot): PodPullSecret[] {
  const namespace = pod.metadata?.namespace ?? '';
  const names = (pod.spec?.imagePullSecrets ?? []).map((r) => r.name ?? '').filter((n) => n !== '');
  const keyring = new Keyring<string>();
  for (const name of names) {
    for (const key of snapshot.secrets.get(secretKey(namespace, name))?.authKeys ?? []) keyring.add(key, name);
  }
  const covering = new Set(ref ? keyring.lookup(ref.name).map((entry) => entry.value) : []);
  return names.map((name) => {
    const key = secretKey(namespace, name);
    const summary = snapshot.secrets.get(key);
    const managedBy = summary ? managingCredential(summary) : undefined;
    return {
      name,
      exists: summary === undefined ? (snapshot.secrets.has(key) ? false : null) : summary === null ? false : true,
      coversImage: covering.has(name),
      ...(managedBy ? { managedBy } : {}),
      ...(summary?.annotations[EXPIRES_AT_ANNOTATION] ? { expiresAt: summary.annotations[EXPIRES_AT_ANNOTATION] } : {}),
    };
  });
}

function managingCredential(secret: PullSecretSummary): string | undefined {
  return secret.labels[MANAGED_BY_LABEL] === MANAGED_BY_VALUE ? secret.labels[CREDENTIAL_LABEL] : undefined;
}

/** RegistryCredentials whose status.registries hold an auths key the kubelet would use for the image. */
export function coveringCredentials(ref: ImageReference, credentials: readonly RegistryCredential[]): RegistryCredential[] {
  return credentials
    .filter((credential) => {
      const keyring = new Keyring<true>();
      for (const key of credential.status?.registries ?? []) keyring.add(key, true);
      return keyring.lookup(ref.name).length > 0;
    })
    .sort((a, b) => a.metadata.name.localeCompare(b.metadata.name));
}

function secretNameOf(credential: RegistryCredential): string {
  return credential.spec.secretName ?? credential.metadata.name;
}

/** The candidate whose Secret the pod lists, else one whose Secret is in the namespace, else the first. */
function pickInvolved(candidates: RegistryCredential[], podSecrets: PodPullSecret[], namespace: string, snapshot: DoctorSnapshot): RegistryCredential | undefined {
  const listed = new Set(podSecrets.map((s) => s.name));
  return (
    candidates.find((c) => listed.has(secretNameOf(c))) ??
    candidates.find((c) => snapshot.secrets.get(secretKey(namespace, secretNameOf(c))) != null) ??
    candidates[0]
  );
}

function summarizeCredential(credential: RegistryCredential, namespace: string, snapshot: DoctorSnapshot): CredentialSummary {
  const conditions = credential.status?.conditions;
  const ready = getCondition(conditions, 'Ready');
  const verified = getCondition(conditions, 'Verified');
  const failed = credential.status?.failedNamespaces?.find((f) => f.namespace === namespace);
  const targets = snapshot.namespaces ? targetNamespaces(credential.spec.namespaces, snapshot.namespaces).targets : undefined;
  return {
    name: credential.metadata.name,
    secretName: secretNameOf(credential),
    registries: credential.status?.registries ?? [],
    ...(targets ? { targetsNamespace: targets.includes(namespace) } : {}),
    ...(ready ? { ready: { status: ready.status, reason: ready.reason, message: ready.message } } : {}),
    ...(verified ? { verified: { status: verified.status, reason: verified.reason, message: verified.message } } : {}),
    ...(credential.status?.rateLimit ? { rateLimit: credential.status.rateLimit } : {}),
    ...(failed ? { failed: { reason: failed.reason, message: failed.message } } : {}),
  };
}

interface Context {
  pod: V1Pod;
  namespace: string;
  podName: string;
  container: WaitingContainer;
  ref: ImageReference | undefined;
  cause: Cause;
  sa: V1ServiceAccount | undefined;
  serviceAccountName: string;
  podSecrets: PodPullSecret[];
  involved: RegistryCredential | undefined;
  credential: CredentialSummary | undefined;
  snapshot: DoctorSnapshot;
}

export function explainCause(cause: Cause, ref: ImageReference | undefined, parseProblem?: string): string {
  const registry = ref ? registryName(ref) : 'the registry';
  switch (cause) {
    case 'unauthorized':
      return `${registry} refused the pull without a valid login (401 / unauthorized): the node had no credential for it, or one the registry does not accept.`;
    case 'denied':
      return `${registry} knows the login but does not let it pull ${ref?.repository ?? 'this repository'} (403 / denied).`;
    case 'not-found-or-unauthorized':
      return (
        `${registry} answered "pull access denied, repository does not exist or may require authorization": ` +
        `it says the same for a repository that does not exist and for a private one pulled without a login that may read it. Either the name is wrong, or a credential is missing.`
      );
    case 'not-found':
      return `${registry} has no ${ref ? `${ref.repository}:${ref.reference}` : 'such image'} (404 / manifest unknown): the repository, tag or digest is wrong or not pushed yet.`;
    case 'rate-limited':
      return ref?.domain === DOCKER_HUB_DOMAIN
        ? `Docker Hub's pull rate limit is used up (429 toomanyrequests); anonymous pulls get ${ANONYMOUS_HUB_LIMIT}, authenticated ones a limit per account.`
        : `${registry} rate-limits pulls (429 Too Many Requests).`;
    case 'tls':
      return `The node does not trust ${registry}'s TLS certificate (x509): a private CA the node lacks, or a proxy intercepting TLS.`;
    case 'unreachable':
      return `The node cannot reach ${registry}: DNS, a refused connection or a timeout. No credential changes that.`;
    case 'invalid-reference':
      return `The image reference does not parse${parseProblem ? `: ${parseProblem}` : ''}; the kubelet does not try to pull it.`;
    case 'unknown':
      return 'The kubelet\'s message does not say why in words doctor knows; read the evidence below.';
  }
}

function registryName(ref: ImageReference): string {
  return ref.domain === DOCKER_HUB_DOMAIN ? 'Docker Hub (docker.io)' : ref.domain;
}

/** The chain from a credential to the pod; the first broken link is the fix. */
function walkChain(ctx: Context): { findings: Finding[]; fix: Fix } {
  const findings: Finding[] = [];
  const { cause, ref, namespace } = ctx;
  const add = (code: Finding['code'], message: string): void => {
    findings.push({ code, message });
  };

  if (cause === 'invalid-reference' || !ref) {
    add('invalid-reference', `the image ${JSON.stringify(ctx.container.image)} is not a valid reference`);
    return { findings, fix: fixImage(ctx, 'Correct the image reference') };
  }
  if (cause === 'tls') {
    return {
      findings,
      fix: {
        summary: `Make the nodes trust ${ref.domain}'s certificate: add its CA to the container runtime (containerd: /etc/containerd/certs.d/${ref.domain}/hosts.toml, ca = "…"; CRI-O: /etc/containers/certs.d/${ref.domain}/ca.crt), or fix the proxy that intercepts TLS.`,
        commands: [],
      },
    };
  }
  if (cause === 'unreachable') {
    return {
      findings,
      fix: {
        summary: `Let the nodes resolve and reach ${ref.domain}${ref.domain === DOCKER_HUB_DOMAIN ? ' (registry-1.docker.io, auth.docker.io and the blob CDN)' : ''} on port 443: DNS, egress firewall or proxy settings of the node's container runtime. A pull Secret does not help.`,
        commands: [],
      },
    };
  }
  if (cause === 'not-found') {
    checkCredentialChain(ctx, add);
    return { findings, fix: fixImage(ctx, `Use an image that exists: push ${ref.repository}:${ref.reference} to ${ref.domain}, or point the pod at a tag or digest that is there`) };
  }

  const podCovering = ctx.podSecrets.filter((s) => s.coversImage);
  if (!ctx.involved) {
    const unmanaged = podCovering.filter((s) => !s.managedBy);
    if (unmanaged.length > 0) {
      add(
        'unmanaged-secret-covers-registry',
        `the pod's pull Secret ${unmanaged.map((s) => JSON.stringify(s.name)).join(', ')} covers ${ref.domain} and is not managed by regcred-operator; no RegistryCredential covers ${ref.domain}`,
      );
      if (cause === 'rate-limited') {
        return {
          findings,
          fix: {
            summary: `The pod pulls with the login in ${unmanaged.map((s) => s.name).join(', ')} and that account's limit is used up: wait for the window to pass, pin images by digest, or use an account with a higher limit.`,
            commands: [],
          },
        };
      }
      return {
        findings,
        fix: {
          summary: `The registry refused the login in ${unmanaged.map((s) => s.name).join(', ')}; replace that Secret's credential, or let a RegistryCredential own it (below).`,
          commands: applySketch(ref, namespace),
        },
      };
    }
    if (CREDENTIAL_CAUSES.has(cause) || cause === 'rate-limited') {
      add('no-credential-covers-registry', `no RegistryCredential's status.registries cover ${ref.name} (and none of the pod's pull Secrets does)`);
      return {
        findings,
        fix: {
          summary:
            cause === 'rate-limited'
              ? `Pull from Docker Hub with a login (an account's limit is per account, not per node IP): create a RegistryCredential for docker.io that targets ${namespace}, then recreate the pod.`
              : `${cause === 'unknown' ? `If ${ref.domain} needs a login: c` : 'C'}reate a RegistryCredential for ${ref.domain} that targets ${namespace}, then recreate the pod so that it picks up the pull Secret.`,
          commands: [...applySketch(ref, namespace), ...recreateCommands(ctx.pod)],
        },
      };
    }
  }

  const broken = checkCredentialChain(ctx, add);
  if (broken) return { findings, fix: broken };

  // The chain holds: the pod presents the credential, and the registry says no.
  const credential = ctx.credential!;
  const verified = credential.verified;
  if (verified && verified.status === 'False') {
    add('verification-failed', `RegistryCredential ${credential.name} is Verified=False (${verified.reason}): ${verified.message}`);
  }
  const rate = credential.rateLimit;
  if (rate && rate.limit > 0 && rate.remaining < rate.limit * LOW_RATE_LIMIT_SHARE) {
    add('rate-limit-low', `RegistryCredential ${credential.name} has ${rate.remaining} of ${rate.limit} pulls left in its ${formatWindow(rate.windowSeconds)} window`);
  }
  return { findings, fix: fixRefusedCredential(ctx, credential) };
}

/** Walks credential → namespace → Secret → ServiceAccount → pod. Returns the fix at the first broken link. */
function checkCredentialChain(ctx: Context, add: (code: Finding['code'], message: string) => void): Fix | undefined {
  const { namespace, credential, involved, snapshot } = ctx;
  if (!credential || !involved) return undefined;
  const secretName = credential.secretName;
  const secret = snapshot.secrets.get(secretKey(namespace, secretName));

  if (credential.targetsNamespace === false) {
    const field = untargetedField(involved, namespace);
    add('namespace-not-targeted', `RegistryCredential ${credential.name} does not target namespace ${namespace}: ${field.why}`);
    return { summary: `${field.summary}; the operator then writes Secret ${secretName} there and adds it to the selected ServiceAccounts. Recreate the pod afterwards.`, commands: [...field.commands, ...recreateCommands(ctx.pod)] };
  }
  if (credential.failed) {
    add('namespace-failed', `RegistryCredential ${credential.name} could not write Secret ${secretName} in ${namespace}: ${credential.failed.reason}: ${credential.failed.message}`);
    return { summary: `Resolve ${credential.failed.reason} as the message says: ${credential.failed.message}`, commands: [`kubectl describe registrycredential ${credential.name}`] };
  }
  const ready = credential.ready;
  if (secret === null || secret === undefined) {
    if (secret === null) add('secret-missing', `Secret ${secretName} (RegistryCredential ${credential.name}) is not in namespace ${namespace}`);
    else add('secret-unreadable', `Secret ${namespace}/${secretName} could not be read`);
    if (ready && ready.status !== 'True') {
      add('credential-not-ready', `RegistryCredential ${credential.name} is Ready=${ready.status} (${ready.reason}): ${ready.message}`);
      return { summary: `RegistryCredential ${credential.name} has nothing to publish yet: ${ready.reason}: ${ready.message}`, commands: [`kubectl describe registrycredential ${credential.name}`] };
    }
    if (secret === undefined) return undefined;
    return {
      summary: `The operator has not written Secret ${secretName} in ${namespace}: is it running? Its log and the credential's status say why.`,
      commands: ['kubectl -n regcred-system get pods', `kubectl describe registrycredential ${credential.name}`],
    };
  }
  const owner = managingCredential(secret);
  if (owner !== credential.name) {
    add('secret-not-ours', `Secret ${namespace}/${secretName} exists but is ${owner ? `RegistryCredential ${owner}'s` : 'not managed by regcred-operator'}`);
    return {
      summary: `Secret ${secretName} in ${namespace} is not ${credential.name}'s: delete or rename it, set spec.adoptExisting: true on ${credential.name}, or choose another spec.secretName.`,
      commands: [`kubectl patch registrycredential ${credential.name} --type=merge -p '{"spec":{"adoptExisting":true}}'`],
    };
  }
  const expiresAt = secret.annotations[EXPIRES_AT_ANNOTATION];
  if (expiresAt && new Date(expiresAt).getTime() <= snapshot.now.getTime()) {
    add('secret-expired', `Secret ${namespace}/${secretName} holds a credential that expired at ${expiresAt}`);
    const why = ready && ready.status !== 'True' ? `${ready.reason}: ${ready.message}` : 'the operator has not refreshed it';
    return { summary: `The published credential has expired (${why}). Fix the refresh; the Secret is rewritten as soon as one succeeds.`, commands: [`kubectl describe registrycredential ${credential.name}`] };
  }
  if (ready && ready.status !== 'True') {
    add('credential-not-ready', `RegistryCredential ${credential.name} is Ready=${ready.status} (${ready.reason}): ${ready.message}`);
  }

  const podLists = ctx.podSecrets.some((s) => s.name === secretName);
  if (!podLists) {
    const saLists = (ctx.sa?.imagePullSecrets ?? []).some((r) => r.name === secretName);
    if (saLists) {
      add(
        'pod-predates-pull-secret',
        `pod ${ctx.podName} does not list pull Secret ${secretName}; its ServiceAccount ${ctx.serviceAccountName} does now. A pod copies its ServiceAccount's imagePullSecrets only when it is created: this one was created before the entry was added`,
      );
      return { summary: `Recreate the pod so that it is admitted with ServiceAccount ${ctx.serviceAccountName}'s pull Secrets.`, commands: recreateCommands(ctx.pod) };
    }
    const selected = selectsServiceAccount(involved, ctx.serviceAccountName);
    if (!selected) {
      const names = involved.spec.serviceAccounts?.names ?? ['default'];
      add(
        'service-account-not-selected',
        `the pod runs as ServiceAccount ${ctx.serviceAccountName}, which RegistryCredential ${credential.name} does not patch (spec.serviceAccounts.names: ${JSON.stringify(names)})`,
      );
      const next = JSON.stringify({ spec: { serviceAccounts: { names: [...names, ctx.serviceAccountName] } } });
      return {
        summary: `Add ${ctx.serviceAccountName} to spec.serviceAccounts.names of ${credential.name} (or list ${secretName} in the pod template's imagePullSecrets), then recreate the pod.`,
        commands: [`kubectl patch registrycredential ${credential.name} --type=merge -p '${next}'`, ...recreateCommands(ctx.pod)],
      };
    }
    add(
      'service-account-not-patched',
      ctx.sa
        ? `ServiceAccount ${namespace}/${ctx.serviceAccountName} does not list ${secretName} yet`
        : `ServiceAccount ${namespace}/${ctx.serviceAccountName} ${snapshot.serviceAccounts.get(secretKey(namespace, ctx.serviceAccountName)) === null ? 'does not exist' : 'could not be read'}`,
    );
    const patched = getCondition(involved.status?.conditions, 'ServiceAccountsPatched');
    return {
      summary: `The operator has not added ${secretName} to ServiceAccount ${ctx.serviceAccountName}${patched && patched.status !== 'True' ? ` (ServiceAccountsPatched: ${patched.reason}: ${patched.message})` : ''}; once it has, recreate the pod.`,
      commands: [`kubectl describe registrycredential ${credential.name}`, ...recreateCommands(ctx.pod)],
    };
  }
  return undefined;
}

function selectsServiceAccount(credential: RegistryCredential, name: string): boolean {
  const names = credential.spec.serviceAccounts?.names ?? ['default'];
  return names.includes('*') || names.includes(name);
}

function untargetedField(credential: RegistryCredential, namespace: string): { why: string; summary: string; commands: string[] } {
  const selection = credential.spec.namespaces;
  const name = credential.metadata.name;
  const excludeIndex = selection?.exclude?.indexOf(namespace) ?? -1;
  if (excludeIndex >= 0) {
    const patch = JSON.stringify([
      { op: 'test', path: `/spec/namespaces/exclude/${excludeIndex}`, value: namespace },
      { op: 'remove', path: `/spec/namespaces/exclude/${excludeIndex}` },
    ]);
    return {
      why: `it is listed in spec.namespaces.exclude`,
      summary: `Remove ${namespace} from spec.namespaces.exclude of ${name}`,
      commands: [`kubectl patch registrycredential ${name} --type=json -p '${patch}'`],
    };
  }
  const addName = `kubectl patch registrycredential ${name} --type=json -p '${JSON.stringify(
    selection?.names ? [{ op: 'add', path: '/spec/namespaces/names/-', value: namespace }] : [{ op: 'add', path: selection ? '/spec/namespaces/names' : '/spec/namespaces', value: selection ? [namespace] : { names: [namespace] } }],
  )}'`;
  if (SYSTEM_NAMESPACES.has(namespace)) {
    return { why: 'system namespaces are targets only when spec.namespaces.names lists them', summary: `Add ${namespace} to spec.namespaces.names of ${name}`, commands: [addName] };
  }
  const selector = selection?.selector;
  if (selector) {
    const labels = Object.entries(selector.matchLabels ?? {});
    const onlyLabels = labels.length > 0 && (selector.matchExpressions ?? []).length === 0;
    return {
      why: `its labels do not match spec.namespaces.selector${selection?.names ? ' and spec.namespaces.names does not list it' : ''}`,
      summary: onlyLabels
        ? `Label namespace ${namespace} to match spec.namespaces.selector of ${name} (or add it to spec.namespaces.names)`
        : `Add ${namespace} to spec.namespaces.names of ${name} (or label it to match spec.namespaces.selector)`,
      commands: [onlyLabels ? `kubectl label namespace ${namespace} ${labels.map(([k, v]) => `${k}=${v}`).join(' ')}` : addName],
    };
  }
  return { why: 'spec.namespaces.names does not list it', summary: `Add ${namespace} to spec.namespaces.names of ${name}`, commands: [addName] };
}

function fixRefusedCredential(ctx: Context, credential: CredentialSummary): Fix {
  const { cause, ref } = ctx;
  const verified = credential.verified;
  const describe = `kubectl describe registrycredential ${credential.name}`;
  const repo = ref ? `${ref.domain}/${ref.repository}` : 'the repository';
  switch (cause) {
    case 'rate-limited':
      return {
        summary: `The pod pulls with ${credential.name}'s login and that account's limit is used up${credential.rateLimit ? ` (${credential.rateLimit.remaining} of ${credential.rateLimit.limit} left)` : ''}: wait for the window to pass, pin images by digest so that unchanged images are not pulled again, or use an account with a higher limit.`,
        commands: [],
      };
    case 'denied':
      return { summary: `The login in ${credential.name} may not pull ${repo}: grant its account read access to ${repo}, or fix the image name.`, commands: [describe] };
    case 'not-found-or-unauthorized':
      return {
        summary: `The pod presents ${credential.name}'s login for ${ref?.domain ?? 'the registry'}. Either ${repo} does not exist (check the name and tag), or that login may not read it (grant access).${verified && verified.status === 'False' ? ` Verified says: ${verified.reason}.` : ''}`,
        commands: [describe],
      };
    case 'unknown':
      return {
        summary: `The pod presents ${credential.name}'s login for ${ref?.domain ?? 'the registry'}, and the kubelet's message does not say why the pull failed: read the evidence.`,
        commands: [describe],
      };
    default:
      return {
        summary: `The pod presents ${credential.name}'s login and the registry refuses it: ${verified && verified.status === 'False' ? `${verified.reason}: ${verified.message}` : 'check the source credential (a revoked token, a wrong password, an expired key).'}`,
        commands: [describe],
      };
  }
}

/** A RegistryCredential for the image's registry: its source Secret (fill in the login), then a `kubectl apply` heredoc. */
export function applySketch(ref: ImageReference, namespace: string): string[] {
  const hub = ref.domain === DOCKER_HUB_DOMAIN;
  const name = hub ? 'dockerhub' : ref.domain.replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 50) || 'registry';
  const registry = hub ? 'https://index.docker.io/v1/' : ref.domain;
  return [
    `kubectl -n regcred-system create secret generic ${name}-login --from-literal=username=USER --from-literal=password=TOKEN`,
    [
      `kubectl apply -f - <<'EOF'`,
      'apiVersion: regcred.io/v1alpha1',
      'kind: RegistryCredential',
      'metadata:',
      `  name: ${name}`,
      'spec:',
      '  static:',
      `    registry: ${registry}`,
      '    credentialsSecretRef:',
      `      name: ${name}-login`,
      '  namespaces:',
      `    names: [${namespace}]`,
      'EOF',
    ].join('\n'),
  ];
}

interface Controller {
  kind: string;
  name: string;
}

function controllerOf(pod: V1Pod): Controller | undefined {
  const owner = pod.metadata?.ownerReferences?.find((r) => r.controller);
  if (!owner) return undefined;
  // A Deployment's ReplicaSet is named <deployment>-<pod-template-hash>, and its pods carry that label.
  const hash = pod.metadata?.labels?.['pod-template-hash'];
  if (owner.kind === 'ReplicaSet' && hash && owner.name.endsWith(`-${hash}`)) {
    return { kind: 'Deployment', name: owner.name.slice(0, -hash.length - 1) };
  }
  return { kind: owner.kind, name: owner.name };
}

/** How to get a new pod (admitted afresh): restart its Deployment, let its controller replace it, or replace it by hand. */
export function recreateCommands(pod: V1Pod): string[] {
  const ns = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  const controller = controllerOf(pod);
  if (controller?.kind === 'Deployment') return [`kubectl -n ${ns} rollout restart deployment/${controller.name}`];
  if (controller) return [`kubectl -n ${ns} delete pod ${name}`];
  // No controller: the same pod again. The exported spec has no imagePullSecrets, so admission adds the ServiceAccount's.
  return [`kubectl -n ${ns} get pod ${name} -o yaml | kubectl replace --force -f -`];
}

function fixImage(ctx: Context, summary: string): Fix {
  const ns = ctx.namespace;
  const controller = controllerOf(ctx.pod);
  const container = ctx.container.name;
  if (ctx.container.type === 'ephemeralContainer') {
    return { summary: `${summary}; an ephemeral container cannot be changed: start another with kubectl debug.`, commands: [] };
  }
  if (controller && ['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'].includes(controller.kind)) {
    return { summary: `${summary} in ${controller.kind.toLowerCase()}/${controller.name}.`, commands: [`kubectl -n ${ns} set image ${controller.kind.toLowerCase()}/${controller.name} ${container}=IMAGE`] };
  }
  if (controller) return { summary: `${summary} in the ${controller.kind} ${controller.name} that owns the pod.`, commands: [] };
  return { summary: `${summary} (pods allow changing a container's image in place).`, commands: [`kubectl -n ${ns} set image pod/${ctx.podName} ${container}=IMAGE`] };
}

function formatWindow(seconds: number): string {
  return seconds % 3600 === 0 ? `${seconds / 3600} h` : `${seconds} s`;
}

/** Containers pulling a mutable tag from Docker Hub with no pull Secret of the pod covering Docker Hub. */
export function anonymousHubPulls(pods: readonly V1Pod[], snapshot: DoctorSnapshot): AnonymousHubPull[] {
  const out: AnonymousHubPull[] = [];
  for (const pod of pods) {
    const namespace = pod.metadata?.namespace ?? '';
    const keyring = new Keyring<string>();
    for (const ref of pod.spec?.imagePullSecrets ?? []) {
      for (const key of snapshot.secrets.get(secretKey(namespace, ref.name ?? ''))?.authKeys ?? []) keyring.add(key, ref.name ?? '');
    }
    const containers: V1Container[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? []), ...((pod.spec?.ephemeralContainers ?? []) as V1Container[])];
    for (const container of containers) {
      const parsed = parseImageReference(container.image ?? '');
      if (!parsed.ok || parsed.value.domain !== DOCKER_HUB_DOMAIN) continue;
      const ref = parsed.value;
      const why: string[] = [];
      if (ref.digest === undefined) {
        if (ref.tag === undefined) why.push('no tag');
        else if (ref.tag === 'latest') why.push('latest tag');
      }
      // The API server defaults the policy to Always for latest and no tag: said only when it is the reason on its own.
      if (container.imagePullPolicy === 'Always' && why.length === 0) why.push('imagePullPolicy Always');
      if (why.length === 0) continue;
      if (keyring.lookup(ref.name).length > 0) continue;
      out.push({ namespace, pod: pod.metadata?.name ?? '', container: container.name, image: container.image ?? '', why });
    }
  }
  return out;
}

/** Docker Hub credentials (status.rateLimit present) under 10 % of their limit; in a namespace's scope, those targeting it. */
export function lowRateLimits(snapshot: DoctorSnapshot): LowRateLimit[] {
  const out: LowRateLimit[] = [];
  for (const credential of snapshot.credentials) {
    const rate = credential.status?.rateLimit;
    if (!rate || !(rate.limit > 0) || rate.remaining >= rate.limit * LOW_RATE_LIMIT_SHARE) continue;
    if (!snapshot.scope.allNamespaces && snapshot.namespaces && snapshot.scope.namespace) {
      if (!targetNamespaces(credential.spec.namespaces, snapshot.namespaces).targets.includes(snapshot.scope.namespace)) continue;
    }
    out.push({ credential: credential.metadata.name, limit: rate.limit, remaining: rate.remaining, windowSeconds: rate.windowSeconds, ...(rate.checkedAt ? { checkedAt: rate.checkedAt } : {}) });
  }
  return out.sort((a, b) => a.credential.localeCompare(b.credential));
}
