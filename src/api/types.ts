/**
 * RegistryCredential, as stored by the API server. These types mirror
 * crds/registrycredentials.regcred.io.yaml; keep both in step.
 */

export interface SecretRef {
  name: string;
}

export interface KeyedSecretRef extends SecretRef {
  /** default key.json */
  key?: string;
}

export interface EcrSource {
  region: string;
  registryIds?: string[];
  roleArn?: string;
  credentialsSecretRef?: SecretRef;
}

export interface GcrSource {
  registries: string[];
  credentialsSecretRef?: KeyedSecretRef;
}

export interface StaticSource {
  registry?: string;
  credentialsSecretRef: SecretRef;
}

export type ProviderName = 'ecr' | 'gcr' | 'static';

export type SelectorOperator = 'In' | 'NotIn' | 'Exists' | 'DoesNotExist';

export interface LabelSelectorRequirement {
  key: string;
  operator: SelectorOperator;
  values?: string[];
}

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirement[];
}

export interface NamespaceSelection {
  names?: string[];
  selector?: LabelSelector;
  exclude?: string[];
}

export interface ServiceAccountSelection {
  /** default ["default"]; ["*"] = every ServiceAccount; [] = none */
  names?: string[];
}

export interface RefreshSpec {
  schedule?: string;
}

export type DeletionPolicy = 'Delete' | 'Orphan';

export interface VerifySpec {
  /** default true */
  enabled?: boolean;
  /** Image references whose manifests must be readable with the credential. */
  images?: string[];
  /** default 360 */
  intervalMinutes?: number;
}

export interface RegistryCredentialSpec {
  ecr?: EcrSource;
  gcr?: GcrSource;
  static?: StaticSource;
  secretName?: string;
  namespaces?: NamespaceSelection;
  serviceAccounts?: ServiceAccountSelection;
  refresh?: RefreshSpec;
  deletionPolicy?: DeletionPolicy;
  adoptExisting?: boolean;
  verify?: VerifySpec;
}

export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition */
export interface Condition {
  type: string;
  status: ConditionStatus;
  reason: string;
  message: string;
  observedGeneration?: number;
  lastTransitionTime: string;
}

export interface FailedNamespace {
  namespace: string;
  reason: string;
  message: string;
}

export interface RegistryCredentialStatus {
  observedGeneration?: number;
  provider?: ProviderName;
  registries?: string[];
  lastRefreshTime?: string;
  expiresAt?: string;
  nextRefreshTime?: string;
  targetNamespaces?: number;
  syncedNamespaces?: number;
  failedNamespaces?: FailedNamespace[];
  patchedServiceAccounts?: number;
  failedRefreshAttempts?: number;
  lastVerifiedTime?: string;
  rateLimit?: RateLimitStatus;
  conditions?: Condition[];
}

/** Docker Hub pull headroom (status.rateLimit). */
export interface RateLimitStatus {
  limit: number;
  remaining: number;
  windowSeconds: number;
  checkedAt: string;
}

export interface ObjectMeta {
  name: string;
  uid?: string;
  generation?: number;
  resourceVersion?: string;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  finalizers?: string[];
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RegistryCredential {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec: RegistryCredentialSpec;
  status?: RegistryCredentialStatus;
}

export const CONDITION_TYPES = ['Ready', 'TokenAvailable', 'SecretsSynced', 'ServiceAccountsPatched', 'Verified'] as const;
export type ConditionType = (typeof CONDITION_TYPES)[number];
