/**
 * What `regcred doctor` reads (a snapshot of API objects, already stripped of secret material) and what it
 * reports. The report is also the `-o json` document; its shape is documented in docs/reference.md
 * ("regcred doctor") and only ever grows.
 */
import type { CoreV1Event, V1Pod, V1ServiceAccount } from '@kubernetes/client-node';
import type { Condition, RateLimitStatus, RegistryCredential } from '../api/types.js';
import type { NamespaceView } from '../desired/namespaces.js';
import type { Cause, PullFailureReason } from './classify.js';

/** A pull Secret without its data: metadata and the auths keys of its docker config, nothing else. */
export interface PullSecretSummary {
  namespace: string;
  name: string;
  type?: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** The keys of `auths` (.dockerconfigjson) or the top-level keys (.dockercfg), in document order. */
  authKeys: string[];
  /** Why no keys could be read, when the data is not a docker config. */
  unreadable?: string;
}

export interface Scope {
  /** undefined with allNamespaces. */
  namespace?: string;
  allNamespaces: boolean;
  pod?: string;
}

export interface DoctorSnapshot {
  scope: Scope;
  now: Date;
  pods: V1Pod[];
  /** Events of the namespaces in scope about pods (any reason; filtered here). */
  events: CoreV1Event[];
  /** By `namespace/name`; null: looked up and not found. A key that is absent was not looked up. */
  secrets: ReadonlyMap<string, PullSecretSummary | null>;
  /** By `namespace/name`; null: looked up and not found. */
  serviceAccounts: ReadonlyMap<string, V1ServiceAccount | null>;
  credentials: RegistryCredential[];
  /** Every namespace, for the target computation; undefined when they could not be listed. */
  namespaces?: NamespaceView[];
  /** What could not be read (RBAC, …), said once each. */
  warnings: string[];
}

export type ContainerType = 'container' | 'initContainer' | 'ephemeralContainer';

export interface PodPullSecret {
  name: string;
  /** false: the pod lists it, and there is no such Secret in the namespace. null: could not be read. */
  exists: boolean | null;
  /** One of its auths keys matches the image, by the kubelet's rules. */
  coversImage: boolean;
  /** The RegistryCredential that publishes it (its labels), if any. */
  managedBy?: string;
  expiresAt?: string;
}

export interface CredentialSummary {
  name: string;
  secretName: string;
  registries: string[];
  /** undefined: the namespaces could not be listed. */
  targetsNamespace?: boolean;
  ready?: ConditionSummary;
  verified?: ConditionSummary;
  rateLimit?: RateLimitStatus;
  /** status.failedNamespaces for this namespace. */
  failed?: { reason: string; message: string };
}

export interface ConditionSummary {
  status: Condition['status'];
  reason: string;
  message: string;
}

/** What a finding is about; docs/reference.md lists them (test/unit/reference-doc.test.ts). */
export const FINDING_CODES = [
  'invalid-reference',
  'no-credential-covers-registry',
  'unmanaged-secret-covers-registry',
  'namespace-not-targeted',
  'namespace-failed',
  'secret-missing',
  'secret-not-ours',
  'secret-expired',
  'credential-not-ready',
  'pod-predates-pull-secret',
  'service-account-not-selected',
  'service-account-not-patched',
  'verification-failed',
  'rate-limit-low',
  'secret-unreadable',
] as const;
export type FindingCode = (typeof FINDING_CODES)[number];

export interface Finding {
  code: FindingCode;
  message: string;
}

export interface Fix {
  summary: string;
  /** Commands to run, in order; empty when the fix is outside the cluster (a node's network, a registry). */
  commands: string[];
}

export interface ContainerDiagnosis {
  namespace: string;
  pod: string;
  container: string;
  containerType: ContainerType;
  image: string;
  /** The registry domain (docker.io, ghcr.io, 127.0.0.1:5000); absent for a reference that does not parse. */
  registry?: string;
  waitingReason: PullFailureReason;
  cause: Cause;
  /** One or two sentences: what the cause means here. */
  explanation: string;
  /** The kubelet's Event lines and the waiting message, verbatim but trimmed; the most telling first. */
  evidence: string[];
  serviceAccount: string;
  /** The pod's spec.imagePullSecrets, in order. */
  pullSecrets: PodPullSecret[];
  /** The RegistryCredential most involved (the one whose Secret the pod uses or should use), if any covers the registry. */
  credential?: CredentialSummary;
  /** Every RegistryCredential whose status.registries cover the image, by name. */
  candidates: string[];
  findings: Finding[];
  fix: Fix;
}

export interface AnonymousHubPull {
  namespace: string;
  pod: string;
  container: string;
  image: string;
  /** `latest tag`, `no tag`, `imagePullPolicy Always`. */
  why: string[];
}

export interface LowRateLimit {
  credential: string;
  limit: number;
  remaining: number;
  windowSeconds: number;
  checkedAt?: string;
}

export interface DoctorReport {
  kind: 'RegcredDoctorReport';
  version: 1;
  scope: { namespace: string | null; allNamespaces: boolean; pod: string | null };
  checkedAt: string;
  summary: {
    podsChecked: number;
    failingPods: number;
    failingContainers: number;
    anonymousDockerHubPods: number;
    lowRateLimitCredentials: number;
  };
  failures: ContainerDiagnosis[];
  risks: {
    anonymousDockerHub: { pods: number; containers: number; items: AnonymousHubPull[] };
    lowRateLimit: LowRateLimit[];
  };
  warnings: string[];
  /** 0: nothing failing; 1: at least one container cannot pull (or the named pod does not exist). */
  exitCode: 0 | 1;
}
