import { RbacAuthorizationV1Api, type KubeConfig } from '@kubernetes/client-node';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Clients } from './kube.js';
import { statusCode } from './kube.js';

export const CRONJOB_NAMESPACE = 'bench-system';
export const CRONJOB_ACCOUNT = 'bench-cronjob';

async function ignoreExists(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

/**
 * The identity a CronJob's pod would have: its own ServiceAccount with just
 * the rights its script uses (list namespaces; get/create/patch Secrets; get/patch
 * ServiceAccounts), and a kubeconfig holding a token for it. Same API priority
 * class as the operator's ServiceAccount, unlike the exempt admin.
 */
export async function cronjobKubeconfig(admin: Clients, dir: string): Promise<string> {
  const rbac = admin.kc.makeApiClient(RbacAuthorizationV1Api);
  await ignoreExists(() => admin.core.createNamespace({ body: { metadata: { name: CRONJOB_NAMESPACE } } }));
  await ignoreExists(() => admin.core.createNamespacedServiceAccount({ namespace: CRONJOB_NAMESPACE, body: { metadata: { name: CRONJOB_ACCOUNT } } }));
  await ignoreExists(() =>
    rbac.createClusterRole({
      body: {
        metadata: { name: CRONJOB_ACCOUNT },
        rules: [
          { apiGroups: [''], resources: ['namespaces'], verbs: ['list'] },
          { apiGroups: [''], resources: ['secrets'], verbs: ['get', 'create', 'patch'] },
          { apiGroups: [''], resources: ['serviceaccounts'], verbs: ['get', 'patch'] },
        ],
      },
    }),
  );
  await ignoreExists(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: CRONJOB_ACCOUNT },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: CRONJOB_ACCOUNT },
        subjects: [{ kind: 'ServiceAccount', name: CRONJOB_ACCOUNT, namespace: CRONJOB_NAMESPACE }],
      },
    }),
  );
  const request = await admin.core.createNamespacedServiceAccountToken({
    namespace: CRONJOB_NAMESPACE,
    name: CRONJOB_ACCOUNT,
    body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } },
  });
  const token = request.status?.token;
  if (!token) throw new Error('the TokenRequest for the CronJob ServiceAccount returned no token');
  const path = join(dir, 'cronjob.kubeconfig');
  writeFileSync(path, JSON.stringify(kubeconfigFor(admin.kc, token, CRONJOB_ACCOUNT), null, 2), { mode: 0o600 });
  return path;
}

/** A kubeconfig for the admin's cluster that authenticates with a ServiceAccount token, its user and context named `name`. */
export function kubeconfigFor(admin: KubeConfig, token: string, name: string): object {
  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error('the admin kubeconfig has no current cluster');
  const caData = cluster.caData ?? (cluster.caFile ? readFileSync(cluster.caFile).toString('base64') : undefined);
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'bench', cluster: { server: cluster.server, ...(caData ? { 'certificate-authority-data': caData } : { 'insecure-skip-tls-verify': true }) } }],
    users: [{ name, user: { token } }],
    contexts: [{ name, context: { cluster: 'bench', user: name } }],
    'current-context': name,
  };
}
