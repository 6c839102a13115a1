import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
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
  /** htpasswd users (the htpasswd mode only: in token mode the token service holds the users). */
  setUsers(users: Record<string, string>): void;
  /** `https` when started with TLS, else `http`. */
  scheme: 'http' | 'https';
  /** The PEM of the private CA that signed the serving certificate (TLS only). */
  caFile?: string;
  stop(): Promise<void>;
}

/** The token service a registry in `auth: token` mode trusts (see test/support/token-service.ts). */
export interface RegistryTokenAuth {
  realm: string;
  service: string;
  issuer: string;
  /** PEM file of the certificate(s) whose keys sign the tokens. */
  rootCertBundle: string;
}

export interface RegistryOptions {
  /** `auth: token` against this token service instead of htpasswd. */
  tokenAuth?: RegistryTokenAuth;
  /** Serve HTTPS with a certificate from a private CA made here (SAN IP:127.0.0.1, DNS:localhost). */
  tls?: boolean;
  /** More DNS names for the serving certificate (e.g. a name only a test proxy resolves). */
  tlsDnsNames?: string[];
}

/** A private CA and a serving certificate it signed, made with openssl. */
export function makeTlsMaterial(dir: string, dnsNames: readonly string[] = []): { caFile: string; certFile: string; keyFile: string } {
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server-key.pem');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  execFileSync('openssl', ['req', '-x509', ...ec, '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=regcred-test-ca', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], { stdio: 'ignore' });
  execFileSync('openssl', ['req', ...ec, '-keyout', key, '-out', csr, '-subj', '/CN=localhost'], { stdio: 'ignore' });
  const sans = ['IP:127.0.0.1', 'DNS:localhost', ...dnsNames.map((n) => `DNS:${n}`)].join(',');
  writeFileSync(ext, `subjectAltName=${sans}\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n`);
  execFileSync('openssl', ['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext], { stdio: 'ignore' });
  return { caFile: ca, certFile: cert, keyFile: key };
}

/** The status of GET url (trusting `ca` for HTTPS), or undefined when nothing answers. */
function statusOf(url: string, ca?: string): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = url.startsWith('https:') ? httpsRequest : httpRequest;
    const req = request(url, { method: 'GET', timeout: 2000, ...(ca ? { ca } : {}) }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(undefined));
    req.on('timeout', () => req.destroy());
    req.end();
  });
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

/**
 * Starts the registry. By default: plain HTTP with htpasswd users. `tokenAuth`: distribution's token
 * mode trusting that token service (pass `{}` as users). `tls`: HTTPS with a private CA (`caFile`).
 */
export async function startRegistry(users: Record<string, string>, options: RegistryOptions = {}): Promise<TestRegistry> {
  requireTool('docker-registry', 'docker-registry');
  requireTool('skopeo', 'skopeo');
  requireTool('htpasswd', 'apache2-utils');
  if (options.tls || options.tokenAuth) requireTool('openssl', 'openssl');
  const dir = mkdtempSync(join(tmpdir(), 'regcred-registry-'));
  const port = await freePort();
  const htpasswd = join(dir, 'htpasswd');
  const setUsers = (u: Record<string, string>): void => {
    if (options.tokenAuth) throw new Error('a token-auth registry has no htpasswd users: change the token service users');
    writeFileSync(htpasswd, `${Object.entries(u).map(([name, pw]) => htpasswdLine(name, pw)).join('\n')}\n`);
  };
  if (!options.tokenAuth) setUsers(users);
  const tls = options.tls ? makeTlsMaterial(dir, options.tlsDnsNames) : undefined;
  const auth = options.tokenAuth
    ? [
        '  token:',
        `    realm: ${options.tokenAuth.realm}`,
        `    service: ${options.tokenAuth.service}`,
        `    issuer: ${options.tokenAuth.issuer}`,
        `    rootcertbundle: ${options.tokenAuth.rootCertBundle}`,
      ]
    : ['  htpasswd:', '    realm: regcred-test', `    path: ${htpasswd}`];
  writeFileSync(
    join(dir, 'config.yml'),
    [
      'version: 0.1',
      'log: {level: warn}',
      'storage:',
      `  filesystem: {rootdirectory: ${join(dir, 'data')}}`,
      'http:',
      `  addr: 127.0.0.1:${port}`,
      ...(tls ? ['  tls:', `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`] : []),
      'auth:',
      ...auth,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('docker-registry', ['serve', join(dir, 'config.yml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const host = `127.0.0.1:${port}`;
  const scheme = tls ? 'https' : 'http';
  const ca = tls ? readFileSync(tls.caFile, 'utf8') : undefined;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if ((await statusOf(`${scheme}://${host}/v2/`, ca)) === 401) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`docker-registry did not start on ${host}: ${stderr.slice(-500)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host,
    setUsers,
    scheme,
    ...(tls ? { caFile: tls.caFile } : {}),
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

/** `skopeo inspect` with a username and password (the token flow, for a token-auth registry). */
export function inspectWithCreds(host: string, repo: string, user: string, password: string): Promise<SkopeoResult> {
  return skopeo(['inspect', '--tls-verify=false', '--creds', `${user}:${password}`, `docker://${host}/${repo}:latest`]);
}
