/**
 * The image's runtime layout without Docker: the Dockerfile's last stage is read and reproduced in a
 * temporary directory (what it copies, its production-only `npm ci`, its ENV, USER, ENTRYPOINT and CMD),
 * then the operator starts from there with the args and env of config/manager/deployment.yaml (the
 * NODE_OPTIONS heap cap included), as the image's user (65532) in an app directory it cannot write, against
 * the local control plane, and serves a static credential. A COPY this test does not know fails it, so
 * the Dockerfile and this test cannot drift apart.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { execFile } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { dump, loadAll } from 'js-yaml';
import { kubectl, kubeconfigPath, OPERATOR_CONTEXT, OPERATOR_NAMESPACE, REPO_ROOT, spawnOperator, uniqueName, waitFor, type OperatorProcess } from '../support/cluster.js';
import { dockerConfig, readSecret } from '../support/fixtures.js';
import type { Deployment } from '../support/helm.js';

const run = promisify(execFile);

interface Stage {
  name?: string;
  lines: string[];
}

/** The Dockerfile's stages with their instructions (continuation lines joined, comments dropped). */
function stages(): Stage[] {
  const text = readFileSync(join(REPO_ROOT, 'Dockerfile'), 'utf8').replace(/\\\n\s*/g, ' ');
  const out: Stage[] = [];
  for (const line of text.split('\n').map((l) => l.trim())) {
    if (!line || line.startsWith('#')) continue;
    const from = /^FROM\s+\S+(?:\s+AS\s+(\S+))?$/i.exec(line);
    if (from) out.push({ name: from[1], lines: [] });
    else out.at(-1)?.lines.push(line);
  }
  return out;
}

function instructions(stage: Stage, keyword: string): string[] {
  return stage.lines.filter((l) => l.toUpperCase().startsWith(`${keyword} `)).map((l) => l.slice(keyword.length + 1).trim());
}

const execForm = (value: string): string[] => JSON.parse(value) as string[];

describe('the Dockerfile runtime stage, reproduced without Docker', () => {
  const all = stages();
  const runtime = all.at(-1)!;
  const app = mkdtempSync(join(tmpdir(), 'regcred-image-'));
  const target = uniqueName('layout-target');
  const credential = uniqueName('layout');
  const source = uniqueName('layout-login');
  let operator: OperatorProcess | undefined;

  beforeAll(async () => {
    expect(instructions(runtime, 'WORKDIR')).toEqual(['/app']);
    for (const copy of instructions(runtime, 'COPY')) {
      const m = /^(?:--from=(\S+)\s+)?(\S+)\s+(\S+)$/.exec(copy);
      if (!m) throw new Error(`Dockerfile: cannot read COPY ${copy}`);
      const [, stageName, from, to] = m as unknown as [string, string | undefined, string, string];
      // As Docker does: a destination ending in / (or .) is a directory the source goes into.
      const dest = /\/$|^\.$/.test(to) ? join(app, to, basename(from)) : join(app, to);
      if (stageName === 'deps' && from === '/app/node_modules') {
        // The deps stage: its package files, then its npm ci (production dependencies only), here.
        const deps = all.find((s) => s.name === 'deps')!;
        for (const c of instructions(deps, 'COPY')) {
          const [files, dir] = [c.split(/\s+/).slice(0, -1), c.split(/\s+/).at(-1)!];
          expect(dir).toBe('./');
          for (const f of files) cpSync(join(REPO_ROOT, f), join(app, f));
        }
        const [npmCi] = instructions(deps, 'RUN');
        expect(npmCi).toMatch(/^npm ci .*--omit=dev/);
        // From the npm cache where it can be: the registry is only asked for what is missing there.
        await run('npm', [...npmCi!.split(/\s+/).slice(1), '--prefer-offline'], { cwd: app, maxBuffer: 16 * 1024 * 1024 });
      } else if (stageName === 'build' && from === '/app/dist') {
        // The build stage runs `npm run build`; dist/ here is what `npm run build` wrote (the tests run after it).
        expect(instructions(all.find((s) => s.name === 'build')!, 'RUN')).toContain('npm run build');
        cpSync(join(REPO_ROOT, 'dist'), dest, { recursive: true });
      } else if (!stageName) {
        cpSync(join(REPO_ROOT, from), dest, { recursive: true });
      } else {
        throw new Error(`Dockerfile: COPY ${copy} is new to test/integration/image-layout.test.ts; reproduce it there`);
      }
    }
    // The image's user may read but not write the app directory (root owns it, as in the image).
    await run('chmod', ['-R', 'a+rX,go-w', app]);
    chmodSync(app, 0o755);
  }, 300_000);

  afterAll(async () => {
    await kubectl(['delete', 'registrycredential', credential, '--ignore-not-found', '--wait=true', '--timeout=30s']);
    await operator?.stop();
    await kubectl(['delete', 'namespace', target, '--ignore-not-found', '--wait=false']);
    await kubectl(['delete', 'secret', source, '-n', OPERATOR_NAMESPACE, '--ignore-not-found']);
  }, 60_000);

  it('holds production dependencies only, and what the Dockerfile copies', () => {
    for (const path of ['package.json', 'dist/cli.js', 'crds/registrycredentials.regcred.io.yaml', 'node_modules/@kubernetes/client-node', 'node_modules/pino']) {
      expect(existsSync(join(app, path))).toBe(true);
    }
    for (const dev of ['jest', 'typescript', 'eslint', 'node', '@swc/core']) expect(existsSync(join(app, 'node_modules', dev))).toBe(false);
    expect(existsSync(join(app, 'src'))).toBe(false);
  });

  it("starts as the image's user with the Deployment's args and env (NODE_OPTIONS heap cap), syncs its caches and serves a static credential", async () => {
    const deployment = (loadAll(readFileSync(join(REPO_ROOT, 'config', 'manager', 'deployment.yaml'), 'utf8')) as Deployment[]).find((o) => o?.kind === 'Deployment')!;
    const c = deployment.spec.template.spec.containers[0]!;
    const env: NodeJS.ProcessEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/tmp' };
    for (const e of instructions(runtime, 'ENV')) {
      const [name, value] = e.split('=') as [string, string];
      env[name] = value;
    }
    const podName = `regcred-operator-6c4f9d7b8-${uniqueName('p').slice(2)}`;
    for (const e of c.env ?? []) {
      const field = e.valueFrom?.fieldRef?.fieldPath;
      env[e.name] = field === 'metadata.namespace' ? OPERATOR_NAMESPACE : field === 'metadata.name' ? podName : e.value;
    }
    expect(env.NODE_OPTIONS).toMatch(/^--max-old-space-size=\d+ --max-semi-space-size=2 --expose-gc$/);
    expect(env.MALLOC_ARENA_MAX).toBe('2');
    expect(env.MALLOC_MMAP_THRESHOLD_).toBe('131072');
    expect(env.NODE_ENV).toBe('production');

    // The kubeconfig stands in for the in-cluster ServiceAccount: the operator's context is its identity.
    const kubeconfig = join(mkdtempSync(join(tmpdir(), 'regcred-image-kube-')), 'kubeconfig');
    writeFileSync(kubeconfig, readFileSync(kubeconfigPath()));
    chmodSync(join(kubeconfig, '..'), 0o755);
    chmodSync(kubeconfig, 0o644);

    const [node, entry] = execForm(instructions(runtime, 'ENTRYPOINT')[0]!) as [string, string];
    expect(node).toBe('node');
    const args = c.args ?? execForm(instructions(runtime, 'CMD')[0]!);
    const [uid, gid] = instructions(runtime, 'USER')[0]!.split(':').map(Number) as [number, number];
    operator = spawnOperator(
      [entry, ...args, '--kubeconfig', kubeconfig, '--context', OPERATOR_CONTEXT, '--health-port', '0', '--metrics-port', '0'],
      { ...env, LOG_FORMAT: 'json' },
      { cwd: app, uid, gid },
    );
    await operator.waitForLog((l) => l.msg === 'caches synced', 60_000);
    // The Deployment's NODE_OPTIONS expose V8's gc (--expose-gc), which giving back the heap when quiet needs.
    expect(operator.logs.filter((l) => l.msg.startsWith('heap compaction when quiet is off'))).toEqual([]);
    // It keeps V8's heap within 10 % of what is live (--heap-growing-percent, set at start, not in NODE_OPTIONS).
    expect(operator.logs.find((l) => l.msg === 'starting regcred-operator')).toMatchObject({ heapGrowingPercent: 10 });

    await kubectl(['create', 'namespace', target]);
    await kubectl(['label', 'namespace', target, `layout-test=${credential}`]);
    await kubectl(['create', 'secret', 'generic', source, '-n', OPERATOR_NAMESPACE, '--from-literal=username=layout-bot', '--from-literal=password=layout-token']);
    const applied = await kubectl(
      ['apply', '-f', '-'],
      {
        input: dump({
          apiVersion: 'regcred.io/v1alpha1',
          kind: 'RegistryCredential',
          metadata: { name: credential },
          spec: { static: { registry: 'registry.example.com', credentialsSecretRef: { name: source } }, namespaces: { selector: { matchLabels: { 'layout-test': credential } } } },
        }),
      },
    );
    expect(applied.code).toBe(0);
    const config = await waitFor(`the pull Secret in ${target}`, async () => dockerConfig(await readSecret(target, credential)), 30_000);
    expect(config.auths['registry.example.com']).toMatchObject({ username: 'layout-bot', password: 'layout-token' });
    // Nothing the image's read-only layout refuses: no write errors, no warnings about the app directory.
    expect(operator.logs.filter((l) => /EACCES|EROFS/.test(JSON.stringify(l)))).toEqual([]);
  }, 120_000);
});
