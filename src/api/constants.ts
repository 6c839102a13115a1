/** Identity of the RegistryCredential API. The CRD file must agree (test/unit/crd-agreement.test.ts). */
export const GROUP = 'regcred.io';
export const VERSION = 'v1alpha1';
export const API_VERSION = `${GROUP}/${VERSION}`;
export const KIND = 'RegistryCredential';
export const PLURAL = 'registrycredentials';
export const SINGULAR = 'registrycredential';
export const SHORT_NAME = 'regcred';
export const CRD_NAME = `${PLURAL}.${GROUP}`;

/** Labels and annotations written on the objects the operator manages. */
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const MANAGED_BY_VALUE = 'regcred-operator';
export const CREDENTIAL_LABEL = `${GROUP}/credential`;
export const EXPIRES_AT_ANNOTATION = `${GROUP}/expires-at`;
/**
 * On a Secret holding an expiring credential: the SHA-256 of its .dockerconfigjson. After a restart
 * the operator reuses a still-fresh credential from its Secrets; this tells it which copies are the
 * ones it wrote (a copy edited by hand is never spread to other namespaces).
 */
export const CREDENTIAL_DIGEST_ANNOTATION = `${GROUP}/credential-sha256`;
/** On a ServiceAccount: the pull secret names this operator added, so only those are ever removed. */
export const ADDED_PULL_SECRETS_ANNOTATION = `${GROUP}/added-image-pull-secrets`;
export const FINALIZER = `${GROUP}/cleanup`;

export const DOCKERCONFIGJSON_TYPE = 'kubernetes.io/dockerconfigjson';
export const DOCKERCONFIGJSON_KEY = '.dockerconfigjson';

/** Namespaces that are targets only when listed by name. */
export const SYSTEM_NAMESPACES: ReadonlySet<string> = new Set(['kube-system', 'kube-public', 'kube-node-lease']);

export const DEFAULT_OPERATOR_NAMESPACE = 'regcred-system';
export const DEFAULT_SERVICE_ACCOUNTS: readonly string[] = ['default'];
export const MAX_FAILED_NAMESPACES_IN_STATUS = 20;

/** The one URL-shaped auths key: Docker Hub's legacy index address, which the kubelet matches for docker.io images. */
export const DOCKER_HUB_REGISTRY = 'https://index.docker.io/v1/';
/** Cron schedules are read in UTC so that every replica and every restart agrees on the next fire time. */
export const CRON_TIMEZONE = 'UTC';
