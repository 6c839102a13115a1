import { beforeAll, describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { CRD_NAME, DEFAULT_OPERATOR_NAMESPACE } from '../../src/api/constants.js';

const REPO_ROOT = fileURLToPath(new URL('../..', import.meta.url));
const NAME = 'regcred-operator';

interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string };
  [field: string]: unknown;
}

interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
  verbs: string[];
}

interface Binding extends Manifest {
  roleRef: { apiGroup: string; kind: string; name: string };
  subjects: { kind: string; name: string; namespace?: string }[];
}

interface Container {
  name: string;
  image: string;
  args?: string[];
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  livenessProbe?: { httpGet?: { path: string; port: string | number } };
  readinessProbe?: { httpGet?: { path: string; port: string | number } };
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    runAsNonRoot?: boolean;
    readOnlyRootFilesystem?: boolean;
    allowPrivilegeEscalation?: boolean;
    privileged?: boolean;
    capabilities?: { drop?: string[]; add?: string[] };
  };
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}

interface Deployment extends Manifest {
  spec: {
    replicas: number;
    strategy?: { type: string; rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string } };
    template: {
      spec: {
        serviceAccountName: string;
        securityContext?: { runAsNonRoot?: boolean; runAsUser?: number; seccompProfile?: { type: string } };
        containers: Container[];
        volumes?: { name: string; emptyDir?: object }[];
      };
    };
  };
}

/**
 * The permissions each role grants, as "apiGroup/resource" -> verbs. Every entry is a call the
 * operator makes; see the comments in config/rbac.
 */
const EXPECTED_PERMISSIONS: Record<string, Record<string, string[]>> = {
  [`ClusterRole/${NAME}`]: {
    'regcred.io/registrycredentials': ['list', 'watch', 'patch'],
    'regcred.io/registrycredentials/status': ['patch'],
    'core/namespaces': ['list', 'watch'],
    'core/secrets': ['get', 'list', 'watch', 'create', 'update', 'delete'],
    'core/serviceaccounts': ['get', 'list', 'watch', 'patch'],
    'core/events': ['create'],
  },
  [`Role/${NAME}`]: {
    'core/secrets': ['list', 'watch'],
    // Leader election (src/leader/lease-lock.ts): create the Lease if there is none (a create cannot be
    // restricted by name), then read and replace only the one named regcred-operator.
    'coordination.k8s.io/leases': ['create'],
    'coordination.k8s.io/leases/regcred-operator': ['get', 'update'],
  },
};

function kustomize(dir: string): Manifest[] {
  let output: string;
  try {
    output = execFileSync('kubectl', ['kustomize', dir], { cwd: REPO_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const err = error as NodeJS.ErrnoException & { stderr?: string };
    if (err.code === 'ENOENT') {
      throw new Error('kubectl is not on PATH: these tests render config/ with `kubectl kustomize`', { cause: error });
    }
    throw new Error(`kubectl kustomize ${dir} failed: ${err.stderr ?? err.message}`, { cause: error });
  }
  return (loadAll(output) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
}

/** "apiGroup/resource" (or "apiGroup/resource/name" for a rule restricted by resourceNames) -> sorted verbs, merged over all rules of a role. */
function permissions(rules: PolicyRule[]): Record<string, string[]> {
  const granted: Record<string, Set<string>> = {};
  for (const rule of rules) {
    for (const group of rule.apiGroups ?? []) {
      for (const resource of rule.resources ?? []) {
        for (const name of rule.resourceNames ?? [undefined]) {
          const key = `${group === '' ? 'core' : group}/${resource}${name === undefined ? '' : `/${name}`}`;
          granted[key] ??= new Set();
          for (const verb of rule.verbs) granted[key].add(verb);
        }
      }
    }
  }
  return Object.fromEntries(Object.entries(granted).map(([key, verbs]) => [key, [...verbs].sort()]));
}

function sortedValues(table: Record<string, string[]>): Record<string, string[]> {
  return Object.fromEntries(Object.entries(table).map(([key, verbs]) => [key, [...verbs].sort()]));
}

describe('config/default, as rendered by kubectl kustomize', () => {
  let objects: Manifest[];
  const find = <T extends Manifest>(kind: string, name = NAME): T => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
    if (!found) throw new Error(`config/default renders no ${kind} ${name}`);
    return found as T;
  };

  beforeAll(() => {
    objects = kustomize('config/default');
  });

  it('holds the CRD, the RBAC and the Deployment, and nothing else', () => {
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`).sort()).toEqual(
      [
        `CustomResourceDefinition/${CRD_NAME}`,
        `Namespace/${DEFAULT_OPERATOR_NAMESPACE}`,
        `ServiceAccount/${NAME}`,
        `ClusterRole/${NAME}`,
        `ClusterRoleBinding/${NAME}`,
        `Role/${NAME}`,
        `RoleBinding/${NAME}`,
        `Deployment/${NAME}`,
      ].sort(),
    );
  });

  it('renders the CRD exactly as crds/ holds it', () => {
    const file = load(readFileSync(`${REPO_ROOT}/crds/${CRD_NAME}.yaml`, 'utf8'));
    expect(find('CustomResourceDefinition', CRD_NAME)).toEqual(file);
  });

  it(`puts every namespaced object in ${DEFAULT_OPERATOR_NAMESPACE}`, () => {
    const clusterScoped = new Set(['CustomResourceDefinition', 'Namespace', 'ClusterRole', 'ClusterRoleBinding']);
    for (const object of objects) {
      expect([object.kind, object.metadata.namespace]).toEqual([
        object.kind,
        clusterScoped.has(object.kind) ? undefined : DEFAULT_OPERATOR_NAMESPACE,
      ]);
    }
  });

  describe('the Deployment', () => {
    let deployment: Deployment;
    let container: Container;
    beforeAll(() => {
      deployment = find<Deployment>('Deployment');
      expect(deployment.spec.template.spec.containers).toHaveLength(1);
      container = deployment.spec.template.spec.containers[0]!;
    });

    it('runs two replicas of `regcred run --leader-elect` as the operator ServiceAccount, told its namespace and pod name', () => {
      expect(deployment.spec.replicas).toBe(2);
      expect(deployment.spec.template.spec.serviceAccountName).toBe(NAME);
      expect(container.image).toBe('regcred-operator:latest');
      expect(container.args).toEqual(['run', '--leader-elect']);
      expect(container.env).toContainEqual({ name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } });
      expect(container.env).toContainEqual({ name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } });
    });

    it('updates by starting a new pod (a follower) before stopping an old one', () => {
      expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    });

    it('runs as non-root with a read-only root filesystem, no privilege escalation and no capabilities', () => {
      const pod = deployment.spec.template.spec.securityContext;
      expect(pod?.runAsNonRoot).toBe(true);
      expect(pod?.runAsUser).toBe(65532);
      expect(pod?.seccompProfile?.type).toBe('RuntimeDefault');
      const sc = container.securityContext;
      expect(sc?.readOnlyRootFilesystem).toBe(true);
      expect(sc?.allowPrivilegeEscalation).toBe(false);
      expect(sc?.privileged ?? false).toBe(false);
      expect(sc?.capabilities?.drop).toEqual(['ALL']);
      expect(sc?.capabilities?.add ?? []).toEqual([]);
    });

    it('gives Node a writable /tmp on an emptyDir', () => {
      const mount = container.volumeMounts?.find((m) => m.mountPath === '/tmp');
      expect(mount).toBeDefined();
      expect(mount?.readOnly ?? false).toBe(false);
      expect(deployment.spec.template.spec.volumes?.find((v) => v.name === mount?.name)?.emptyDir).toBeDefined();
    });

    it('has liveness and readiness probes on the health port', () => {
      expect(container.ports).toContainEqual(expect.objectContaining({ name: 'health', containerPort: 8081 }));
      expect(container.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'health' });
      expect(container.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'health' });
    });

    it('exposes Prometheus /metrics on a port of its own, the default of --metrics-port', () => {
      expect(container.ports).toContainEqual({ name: 'metrics', containerPort: 8080, protocol: 'TCP' });
      expect(container.args?.some((arg) => arg.startsWith('--metrics-port'))).toBe(false);
      expect(new Set(container.ports?.map((p) => p.containerPort)).size).toBe(container.ports?.length);
    });

    it('requests resources and limits memory', () => {
      expect(container.resources?.requests).toEqual({ cpu: '50m', memory: '192Mi' });
      expect(container.resources?.limits?.memory).toBe('512Mi');
    });

    it('caps the V8 heap below the memory limit, leaving room for what lives outside the heap', () => {
      const nodeOptions = container.env?.find((e) => e.name === 'NODE_OPTIONS')?.value ?? '';
      const cap = Number(/--max-old-space-size=(\d+)/.exec(nodeOptions)?.[1]);
      const limitMiB = Number(/^(\d+)Mi$/.exec(String(container.resources?.limits?.memory))?.[1]);
      expect(cap).toBeGreaterThan(0);
      // ~90 MiB of RSS outside the heap (BENCHMARKS.md: RSS minus V8's reserved heap), plus the young generation.
      expect(cap + 150).toBeLessThanOrEqual(limitMiB);
    });
  });

  describe('RBAC', () => {
    it.each(Object.entries(EXPECTED_PERMISSIONS))('%s grants exactly the verbs of the calls the operator makes', (id, expected) => {
      const [kind, name] = id.split('/') as [string, string];
      const role = find<Manifest & { rules: PolicyRule[] }>(kind, name);
      expect(permissions(role.rules)).toEqual(sortedValues(expected));
    });

    it('uses no wildcards or non-resource URLs', () => {
      for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role') as (Manifest & { rules: PolicyRule[] })[]) {
        for (const rule of role.rules) {
          expect([...rule.verbs, ...(rule.resources ?? []), ...(rule.apiGroups ?? [])]).not.toContain('*');
          expect(rule.nonResourceURLs).toBeUndefined();
        }
      }
    });

    it('reads Secrets only through verbs it already has with list: get (adoption) adds no reach', () => {
      for (const role of objects.filter((o) => o.kind === 'ClusterRole') as (Manifest & { rules: PolicyRule[] })[]) {
        const verbs = permissions(role.rules)['core/secrets'] ?? [];
        if (verbs.includes('get')) expect(verbs).toContain('list');
      }
    });

    it('binds the roles to the operator ServiceAccount', () => {
      const subject = { kind: 'ServiceAccount', name: NAME, namespace: DEFAULT_OPERATOR_NAMESPACE };
      expect(find('ServiceAccount').metadata.namespace).toBe(DEFAULT_OPERATOR_NAMESPACE);
      const clusterBinding = find<Binding>('ClusterRoleBinding');
      expect(clusterBinding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: NAME });
      expect(clusterBinding.subjects).toEqual([subject]);
      const binding = find<Binding>('RoleBinding');
      expect(binding.roleRef).toEqual({ apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: NAME });
      expect(binding.subjects).toEqual([subject]);
    });
  });
});

describe('config/samples, as `kubectl apply -f config/samples/` reads them', () => {
  type Sample = Manifest & { spec?: Record<string, unknown> };
  const read = (file: string): Sample[] =>
    (loadAll(readFileSync(join(REPO_ROOT, 'config', 'samples', file), 'utf8')) as (Sample | null)[]).filter((m): m is Sample => m !== null);

  it('holds a RegistryCredential for each provider (and Docker Hub) beside the quick start, one provider each', () => {
    const files = readdirSync(join(REPO_ROOT, 'config', 'samples')).filter((f) => f.endsWith('.yaml') && f !== 'quickstart.yaml');
    const credentials = files.flatMap(read).filter((o) => o.kind === 'RegistryCredential');
    const providers = credentials.map((c) => ['ecr', 'gcr', 'static'].filter((p) => c.spec?.[p] !== undefined));
    for (const one of providers) expect(one).toHaveLength(1);
    expect(new Set(providers.flat())).toEqual(new Set(['ecr', 'gcr', 'static']));
    const registries = credentials.map((c) => (c.spec?.static as { registry?: string } | undefined)?.registry);
    expect(registries).toContain('https://index.docker.io/v1/');
    for (const credential of credentials) expect(credential.metadata.namespace).toBeUndefined();
  });

  it('the quick start brings its source Secret and the namespaces it selects (test/integration/quickstart.test.ts applies it)', () => {
    const objects = read('quickstart.yaml');
    const credentials = objects.filter((o) => o.kind === 'RegistryCredential');
    expect(credentials).toHaveLength(1);
    const spec = credentials[0]!.spec as { static: { credentialsSecretRef: { name: string } }; namespaces: { selector: { matchLabels: Record<string, string> } } };
    const source = objects.find((o) => o.kind === 'Secret' && o.metadata.name === spec.static.credentialsSecretRef.name);
    expect(source?.metadata.namespace).toBe(DEFAULT_OPERATOR_NAMESPACE);
    const namespaces = objects.filter((o) => o.kind === 'Namespace');
    expect(namespaces.length).toBeGreaterThan(0);
    for (const ns of namespaces) expect((ns.metadata as { labels?: Record<string, string> }).labels).toMatchObject(spec.namespaces.selector.matchLabels);
  });
});
