import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A real container registry (Debian's docker-registry, the CNCF distribution
 * server) on loopback with htpasswd authentication, seeded with a small image
 * built here as an OCI layout and pushed with skopeo.
 */
export interface TestRegistry {
  /** host:port, the auths key a pull secret needs */
  host: string;
  setUsers(users: Record<string, string>): void;
  stop(): Promise<void>;
}

function requireTool(tool: string, debianPackage: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  } catch {
    throw new Error(`${tool} is not installed: apt-get install ${debianPackage} (.ci/run installs it)`);
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

function htpasswdLine(user: string, password: string): string {
  // The registry accepts only bcrypt entries.
  return execFileSync('htpasswd', ['-nbB', user, password], { encoding: 'utf8' }).trim();
}

export async function startRegistry(users: Record<string, string>): Promise<TestRegistry> {
  requireTool('docker-registry', 'docker-registry');
  requireTool('skopeo', 'skopeo');
  requireTool('htpasswd', 'apache2-utils');
  const dir = mkdtempSync(join(tmpdir(), 'regcred-registry-'));
  const port = await freePort();
  const htpasswd = join(dir, 'htpasswd');
  const setUsers = (u: Record<string, string>): void => {
    writeFileSync(htpasswd, `${Object.entries(u).map(([name, pw]) => htpasswdLine(name, pw)).join('\n')}\n`);
  };
  setUsers(users);
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      'storage:',
      `  filesystem: {rootdirectory: ${join(dir, 'data')}}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      'auth:',
      '  htpasswd:',
      '    realm: regcred-test',
      `    path: ${htpasswd}`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      const res = await fetch(`http://${host}/v2/`);
      if (res.status === 401) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start on ${host}: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    setUsers,
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function blob(layout: string, content: Buffer): { digest: string; size: number } {
  const hex = createHash('sha256').update(content).digest('hex');
  writeFileSync(join(layout, 'blobs', 'sha256', hex), content);
  return { digest: `sha256:${hex}`, size: content.length };
}

/** Builds a one-layer OCI image layout on disk (no network, no daemon). */
export function buildOciLayout(): string {
  const layout = mkdtempSync(join(tmpdir(), 'regcred-oci-'));
  mkdirSync(join(layout, 'blobs', 'sha256'), { recursive: true });
  const content = mkdtempSync(join(tmpdir(), 'regcred-layer-'));
  writeFileSync(join(content, 'hello.txt'), 'pulled with a regcred-operator Secret\n');
  const tarPath = join(content, '..', `${content.split('/').pop()}.tar`);
  execFileSync('tar', ['-cf', tarPath, '-C', content, 'hello.txt']);
  const tar = readFileSync(tarPath);
  const gz = execFileSync('gzip', ['-n', '-c', tarPath]);
  const layer = blob(layout, gz);
  const diffId = `sha256:${createHash('sha256').update(tar).digest('hex')}`;
  const config = blob(
    layout,
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [diffId] }, config: {} })),
  );
  const manifest = blob(
    layout,
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  writeFileSync(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({
      schemaVersion: 2,
      manifests: [
        { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'latest' } },
      ],
    }),
  );
  return layout;
}

export interface SkopeoResult {
  code: number;
  stdout: string;
  stderr: string;
}

function skopeo(args: string[]): Promise<SkopeoResult> {
  return new Promise((resolve) => {
    execFile('skopeo', args, { timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Pushes the layout to host/repo:latest with the given login. */
export async function pushImage(layout: string, host: string, repo: string, user: string, password: string): Promise<void> {
  const result = await skopeo(['copy', '--dest-tls-verify=false', '--dest-creds', `${user}:${password}`, `oci:${layout}:latest`, `docker://${host}/${repo}:latest`]);
  if (result.code !== 0) throw new Error(`skopeo copy failed: ${result.stderr}`);
}

/** What a kubelet does with a pull secret, as far as auth goes: read the manifest with that authfile. */
export function inspectWithAuthfile(authfile: string, host: string, repo: string): Promise<SkopeoResult> {
  return skopeo(['inspect', '--tls-verify=false', '--authfile', authfile, `docker://${host}/${repo}:latest`]);
}
