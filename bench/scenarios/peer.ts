/**
 * Scenario "peer": external-secrets (ESO), the tool users would pick instead, beside the operator, both
 * publishing an ECR pull Secret from the same moto endpoint (test/support/moto.ts) into the same N
 * labelled namespaces.
 *
 * - ESO v0.16.2 is built from its Go module by our own main module in bench/peer/external-secrets/ (cached
 *   in .regcred/peers/external-secrets-v0.16.2/), its CRDs come from the module's deploy/crds/bundle.yaml,
 *   and it runs as its own ServiceAccount (external-secrets/external-secrets) so that the audit log
 *   separates its requests. Only the controller runs (no webhook, no cert controller, no leader election).
 * - ESO v0.16.2 has no endpoint setting for ECR: its AWS code (aws-sdk-go v1) takes custom endpoints only for
 *   Secrets Manager, SSM and STS (AWS_SECRETSMANAGER_ENDPOINT, AWS_SSM_ENDPOINT, AWS_STS_ENDPOINT in
 *   pkg/provider/aws/auth/resolver.go), and aws-sdk-go v1 does not read AWS_ENDPOINT_URL*. It does honour
 *   HTTPS_PROXY and AWS_CA_BUNDLE, so ESO reaches moto through a local CONNECT proxy that terminates TLS for
 *   api.ecr.<region>.amazonaws.com with a certificate from a private CA (given as AWS_CA_BUNDLE) and forwards
 *   the plain HTTP requests to moto. The ESO binary is unmodified.
 * - Every GetAuthorizationToken is counted by moto, whoever asks; the two tools run one after the other.
 */
import { ApiextensionsV1Api, RbacAuthorizationV1Api, type V1CustomResourceDefinition, type V1Secret } from '@kubernetes/client-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, lstatSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync, type WriteStream } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TLSSocket } from 'node:tls';
import yaml from 'js-yaml';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { REPO_ROOT as TEST_SUPPORT_ROOT } from '../../test/support/cluster.js';
import { freePort, MOTO_VERSION, startMoto, type MotoServer } from '../../test/support/moto.js';
import { awsTestEnv } from '../../test/support/provider-env.js';
import { makeTlsMaterial } from '../../test/support/registry.js';
import { auditMark, auditSince, byUser, isWrite, summarize, type RequestSummary } from '../lib/audit.js';
import { startOperator, timeoutFor, type BenchContext } from '../lib/context.js';
import {
  createCredential,
  createOpaqueSecret,
  credentialStatus,
  deleteCredential,
  deleteOpaqueSecret,
  fanOutState,
  OPERATOR_USER,
  pollFanOut,
  rawGet,
  statusCode,
  TARGET_LABEL,
  type PullCredential,
} from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { PeerBuild, PeerFailure, PeerResult, PeerToolResult } from '../lib/results.js';
import { kubeconfigFor } from '../lib/setup.js';
import { errorMessage, progress, sleep, waitUntil } from '../lib/util.js';
import { POLL_INTERVAL_MS } from './fanout.js';

export const ESO_VERSION = 'v0.16.2';
const ESO_MODULE = 'github.com/external-secrets/external-secrets';
const ESO_NAMESPACE = 'external-secrets';
const ESO_ACCOUNT = 'external-secrets';
export const ESO_USER = `system:serviceaccount:${ESO_NAMESPACE}:${ESO_ACCOUNT}`;
/** ESO's own default (cmd/controller/root.go `--concurrent`, and the Helm chart's `concurrent: 1`). */
const ESO_CONCURRENT = 1;

const REGION = 'eu-west-1';
/** moto's account for unknown static keys; its ECR password is "<account>-auth-token" (the same at every call). */
const ACCOUNT = '123456789012';
const ECR_API_HOST = `api.ecr.${REGION}.amazonaws.com`;
/** What a valid pull Secret holds: the token moto issues, for the registry its proxyEndpoint names. */
export const MOTO_ECR_CREDENTIAL: PullCredential = { registry: `${ACCOUNT}.dkr.ecr.${REGION}.amazonaws.com`, username: 'AWS', password: `${ACCOUNT}-auth-token` };
const ACCESS_KEY = 'AKIAREGCREDBENCH0001';
const SECRET_KEY = 'regcredBenchSecretKey0000000000000000000';

/** ESO's refreshInterval and the operator's refresh schedule: once a minute (the operator's cron has minutes). */
const REFRESH_INTERVAL_S = 60;
const OPERATOR_SCHEDULE = '* * * * *';
/** Refresh intervals watched after convergence. Any 120 s window holds exactly 2 minute boundaries (the operator's cron). */
const WINDOW_INTERVALS = 2;

const OPERATOR_CREDENTIAL = 'bench-ecr';
const OPERATOR_AWS_SOURCE = 'bench-aws';
const ESO_NAME = 'bench-eso';
const ESO_AWS_NOTE =
  'ESO v0.16.2 resolves a generator\'s secretRef only in the ExternalSecret\'s own namespace (pkg/utils/resolvers/secret_ref.go: only a ClusterSecretStore may read across namespaces), so one key Secret cannot serve a ClusterExternalSecret over N namespaces; the ClusterGenerator has no auth and ESO uses its own credential chain (the static keys in its environment, as IRSA would give it on EKS).';

const MiB = 1024;

// ---- building ESO ----

let built: Promise<{ path: string; build: PeerBuild }> | undefined;

function run(command: string, args: string[], cwd: string): { ok: boolean; out: string } {
  const r = spawnSync(command, args, { cwd, encoding: 'utf8', env: process.env });
  return { ok: r.status === 0, out: `${r.stdout ?? ''}${r.stderr ?? ''}${r.error ? r.error.message : ''}`.trim() };
}

class StageError extends Error {
  constructor(
    readonly stage: string,
    message: string,
    readonly command?: string,
  ) {
    super(message);
  }
}

/** The ESO controller binary, built with `go build` from bench/peer/external-secrets when not cached (once per run). */
function ensureEsoBinary(ctx: BenchContext): Promise<{ path: string; build: PeerBuild }> {
  built ??= buildEso(ctx);
  return built;
}

async function buildEso(ctx: BenchContext): Promise<{ path: string; build: PeerBuild }> {
  const moduleDir = join(ctx.root, 'bench', 'peer', 'external-secrets');
  const outDir = join(ctx.root, '.regcred', 'peers', `external-secrets-${ESO_VERSION}`);
  const binary = join(outDir, 'external-secrets');
  const command = `(cd bench/peer/external-secrets && GOTOOLCHAIN=auto go build -trimpath -o ${join('.regcred', 'peers', `external-secrets-${ESO_VERSION}`, 'external-secrets')} .)`;
  const goMod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  if (!goMod.includes(`${ESO_MODULE} ${ESO_VERSION}`)) {
    throw new StageError('build', `bench/peer/external-secrets/go.mod does not require ${ESO_MODULE} ${ESO_VERSION}; the cache is keyed by that version`);
  }
  const goVersion = run('go', ['version'], moduleDir);
  const build: PeerBuild = { binary: binary.slice(ctx.root.length + 1), cached: existsSync(binary), command, goVersion: goVersion.ok ? goVersion.out : undefined };
  if (build.cached) return { path: binary, build };
  if (!goVersion.ok) throw new StageError('build', `go is not installed or does not run: ${goVersion.out}`, 'go version');

  mkdirSync(outDir, { recursive: true });
  const tmp = `${binary}.tmp-${process.pid}`;
  const logFile = join(ctx.dir, 'external-secrets-build.log');
  const log = createWriteStream(logFile);
  progress(`building external-secrets ${ESO_VERSION} from its Go module (${goVersion.out}; about 8 minutes on 2 CPUs, once; cached in ${build.binary}); log ${logFile}`);
  const started = Date.now();
  const child = spawn('go', ['build', '-trimpath', '-o', tmp, '.'], {
    cwd: moduleDir,
    env: { ...process.env, GOTOOLCHAIN: process.env.GOTOOLCHAIN && process.env.GOTOOLCHAIN !== 'local' ? process.env.GOTOOLCHAIN : 'auto' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const tail: string[] = [];
  const keep = (chunk: Buffer): void => {
    log.write(chunk);
    tail.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    tail.splice(0, Math.max(0, tail.length - 20));
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const ticker = setInterval(() => progress(`still building external-secrets (${Math.round((Date.now() - started) / 1000)} s)`), 60_000);
  const killer = setTimeout(() => child.kill('SIGKILL'), 40 * 60_000);
  const stopOnExit = (): void => {
    child.kill('SIGKILL');
  };
  process.once('exit', stopOnExit);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  process.removeListener('exit', stopOnExit);
  clearInterval(ticker);
  clearTimeout(killer);
  await new Promise<void>((resolve) => log.end(() => resolve()));
  build.ms = Date.now() - started;
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new StageError('build', `go build exited ${code} after ${Math.round(build.ms / 1000)} s: ${tail.slice(-8).join(' | ')}`, command);
  }
  renameSync(tmp, binary);
  progress(`external-secrets built in ${Math.round(build.ms / 1000)} s`);
  return { path: binary, build };
}

// ---- installing ESO into the control plane ----

interface EsoInstall {
  crds: number;
  conversionWebhooksStripped: number;
  /** "crd: version.path, …" for the CRDs this API server rejected until untyped fields got type: object. */
  typedFields: string[];
  kubeconfig: string;
}

let installed: Promise<EsoInstall> | undefined;

/** The module's CRD bundle (from the Go module cache) and ESO's identity; once per run. */
function ensureEsoInstalled(ctx: BenchContext): Promise<EsoInstall> {
  installed ??= installEso(ctx);
  return installed;
}

async function installEso(ctx: BenchContext): Promise<EsoInstall> {
  const download = run('go', ['mod', 'download', '-json', `${ESO_MODULE}@${ESO_VERSION}`], join(ctx.root, 'bench', 'peer', 'external-secrets'));
  if (!download.ok) throw new StageError('install', download.out, `go mod download -json ${ESO_MODULE}@${ESO_VERSION}`);
  const moduleDir = (JSON.parse(download.out) as { Dir?: string }).Dir;
  if (!moduleDir) throw new StageError('install', `no Dir in: ${download.out.slice(0, 300)}`, `go mod download -json ${ESO_MODULE}@${ESO_VERSION}`);
  const bundle = join(moduleDir, 'deploy', 'crds', 'bundle.yaml');
  const crds = yaml.loadAll(readFileSync(bundle, 'utf8')).filter((d): d is V1CustomResourceDefinition => (d as { kind?: string } | null)?.kind === 'CustomResourceDefinition');
  let stripped = 0;
  for (const crd of crds) {
    // A conversion webhook would name ESO's webhook Service, which does not exist here.
    if (crd.spec.conversion?.strategy === 'Webhook') {
      delete crd.spec.conversion;
      stripped++;
    }
  }
  const ext = ctx.admin.kc.makeApiClient(ApiextensionsV1Api);
  const typed: string[] = [];
  for (const crd of crds) {
    try {
      await ext.createCustomResourceDefinition({ body: crd });
    } catch (err) {
      if (statusCode(err) === 409) continue;
      // This API server (Kubernetes 1.35) rejects a field that has x-kubernetes-preserve-unknown-fields but no
      // type ("must not be empty for specified object fields"; e.g. the Vault generator's `parameters`): such
      // fields get `type: object`, in the CRDs that are rejected only, and the report lists them.
      if (statusCode(err) !== 422 || !errorMessage(err).includes('must not be empty for specified object fields')) {
        throw new StageError('install', `creating CRD ${crd.metadata?.name}: ${errorMessage(err).split('\n')[0]}`);
      }
      const fields: string[] = [];
      for (const version of crd.spec.versions) typeUntypedFields(version.schema?.openAPIV3Schema, `${version.name}`, fields);
      typed.push(`${crd.metadata?.name}: ${fields.join(', ')}`);
      try {
        await ext.createCustomResourceDefinition({ body: crd });
      } catch (again) {
        throw new StageError('install', `creating CRD ${crd.metadata?.name} (after giving ${fields.length} untyped fields type: object): ${errorMessage(again).split('\n')[0]}`);
      }
    }
  }
  await waitUntil(
    `the ${crds.length} external-secrets CRDs to be established`,
    async () => {
      const list = await ext.listCustomResourceDefinition();
      const names = new Set(crds.map((c) => c.metadata?.name));
      const established = list.items.filter((c) => names.has(c.metadata?.name) && c.status?.conditions?.some((x) => x.type === 'Established' && x.status === 'True'));
      return established.length === crds.length ? true : undefined;
    },
    60_000,
    500,
  );
  return { crds: crds.length, conversionWebhooksStripped: stripped, typedFields: typed, kubeconfig: await esoKubeconfig(ctx) };
}

interface SchemaNode {
  type?: string;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
  additionalProperties?: SchemaNode | boolean;
  'x-kubernetes-preserve-unknown-fields'?: boolean;
  'x-kubernetes-int-or-string'?: boolean;
  anyOf?: unknown[];
  oneOf?: unknown[];
  allOf?: unknown[];
}

/** Gives `type: object` to the fields under `node` that preserve unknown fields and have no type; names them in `fields`. */
function typeUntypedFields(node: SchemaNode | undefined, path: string, fields: string[]): void {
  if (!node) return;
  for (const [name, child] of Object.entries(node.properties ?? {})) {
    if (child.type === undefined && child['x-kubernetes-preserve-unknown-fields'] && !child['x-kubernetes-int-or-string'] && !child.anyOf && !child.oneOf && !child.allOf) {
      child.type = 'object';
      fields.push(`${path}.${name}`);
    }
    typeUntypedFields(child, `${path}.${name}`, fields);
  }
  if (node.items) typeUntypedFields(node.items, `${path}[]`, fields);
  if (typeof node.additionalProperties === 'object') typeUntypedFields(node.additionalProperties, `${path}{}`, fields);
}

async function ignoreExists(create: () => Promise<unknown>): Promise<void> {
  try {
    await create();
  } catch (err) {
    if (statusCode(err) !== 409) throw err;
  }
}

/**
 * ESO's own ServiceAccount with the rights its controller uses (its Helm chart's ClusterRole, cut to what the
 * controller reads and writes here), and a kubeconfig with a token for it.
 */
async function esoKubeconfig(ctx: BenchContext): Promise<string> {
  const { core, kc } = ctx.admin;
  const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
  await ignoreExists(() => core.createNamespace({ body: { metadata: { name: ESO_NAMESPACE } } }));
  await ignoreExists(() => core.createNamespacedServiceAccount({ namespace: ESO_NAMESPACE, body: { metadata: { name: ESO_ACCOUNT } } }));
  const rw = ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete', 'deletecollection'];
  await ignoreExists(() =>
    rbac.createClusterRole({
      body: {
        metadata: { name: `bench-${ESO_ACCOUNT}` },
        rules: [
          { apiGroups: ['external-secrets.io'], resources: ['*'], verbs: rw },
          { apiGroups: ['generators.external-secrets.io'], resources: ['*'], verbs: rw },
          { apiGroups: [''], resources: ['secrets', 'configmaps'], verbs: rw },
          { apiGroups: [''], resources: ['namespaces', 'serviceaccounts'], verbs: ['get', 'list', 'watch'] },
          { apiGroups: [''], resources: ['serviceaccounts/token'], verbs: ['create'] },
          { apiGroups: ['', 'events.k8s.io'], resources: ['events'], verbs: ['create', 'patch'] },
          { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: rw },
        ],
      },
    }),
  );
  await ignoreExists(() =>
    rbac.createClusterRoleBinding({
      body: {
        metadata: { name: `bench-${ESO_ACCOUNT}` },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: `bench-${ESO_ACCOUNT}` },
        subjects: [{ kind: 'ServiceAccount', name: ESO_ACCOUNT, namespace: ESO_NAMESPACE }],
      },
    }),
  );
  const request = await core.createNamespacedServiceAccountToken({ namespace: ESO_NAMESPACE, name: ESO_ACCOUNT, body: { spec: { audiences: [], expirationSeconds: 24 * 3600 } } });
  const token = request.status?.token;
  if (!token) throw new StageError('install', 'the TokenRequest for the external-secrets ServiceAccount returned no token');
  const path = join(ctx.dir, 'external-secrets.kubeconfig');
  writeFileSync(path, JSON.stringify(kubeconfigFor(kc, token, ESO_ACCOUNT), null, 2), { mode: 0o600 });
  return path;
}

// ---- the HTTPS proxy that brings ESO's ECR calls to moto ----

interface EcrProxy {
  url: string;
  caFile: string;
  /** CONNECT tunnels opened to the ECR API host, and HTTP requests forwarded to moto. */
  tunnels: number;
  requests: number;
  refused: string[];
  close(): Promise<void>;
}

async function startEcrProxy(dir: string, moto: MotoServer): Promise<EcrProxy> {
  const tlsDir = join(dir, 'ecr-proxy-tls');
  mkdirSync(tlsDir, { recursive: true });
  const tls = makeTlsMaterial(tlsDir, [ECR_API_HOST]);
  const key = readFileSync(tls.keyFile);
  const cert = readFileSync(tls.certFile);
  const sockets = new Set<Socket>();
  const state = { tunnels: 0, requests: 0, refused: [] as string[] };
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    state.requests++;
    const upstream = httpRequest({ host: '127.0.0.1', port: moto.port, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err) => {
      res.writeHead(502).end(errorMessage(err));
    });
    req.pipe(upstream);
  };
  // The server the tunnels' TLS sockets are handed to (it never listens itself).
  const inner: Server = createServer(forward);
  const outer: Server = createServer((_req, res) => res.writeHead(405).end('CONNECT only'));
  outer.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    if (req.url !== `${ECR_API_HOST}:443`) {
      state.refused.push(req.url ?? '?');
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    state.tunnels++;
    socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
    if (head.length > 0) socket.unshift(head);
    const secure = new TLSSocket(socket, { isServer: true, key, cert });
    secure.on('error', () => socket.destroy());
    inner.emit('connection', secure);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => outer.listen(port, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${port}`,
    caFile: tls.caFile,
    get tunnels() {
      return state.tunnels;
    },
    get requests() {
      return state.requests;
    },
    refused: state.refused,
    close: async () => {
      for (const s of sockets) s.destroy();
      outer.closeAllConnections();
      await new Promise<void>((resolve) => outer.close(() => resolve()));
    },
  };
}

// ---- the ESO process ----

interface EsoLine {
  msg?: string;
  level?: string;
  controller?: string;
  [key: string]: unknown;
}

class EsoProcess {
  readonly child: ChildProcess;
  readonly lines: EsoLine[] = [];
  readonly exited: Promise<number | null>;
  private readonly out: WriteStream;
  private readonly killOnExit = (): void => {
    this.child.kill('SIGKILL');
  };

  constructor(binary: string, args: string[], env: NodeJS.ProcessEnv, readonly logFile: string) {
    this.out = createWriteStream(logFile, { flags: 'a' });
    this.child = spawn(binary, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    this.exited = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
    // The benchmark can end with process.exit (a signal): the controller must not outlive it.
    process.once('exit', this.killOnExit);
    const onLine = (raw: string): void => {
      this.out.write(`${raw}\n`);
      try {
        if (this.lines.length < 50_000) this.lines.push(JSON.parse(raw) as EsoLine);
      } catch {
        this.lines.push({ msg: raw });
      }
    };
    createInterface({ input: this.child.stdout! }).on('line', onLine);
    createInterface({ input: this.child.stderr! }).on('line', onLine);
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  errors(): EsoLine[] {
    return this.lines.filter((l) => l.level === 'error');
  }

  memory(): { rssKiB: number; hwmKiB: number } {
    const status = readFileSync(`/proc/${this.child.pid}/status`, 'utf8');
    const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKiB: field('VmRSS'), hwmKiB: field('VmHWM') };
  }

  async stop(): Promise<void> {
    if (this.running) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 20_000);
      await this.exited;
      clearTimeout(timer);
    }
    process.removeListener('exit', this.killOnExit);
    await new Promise<void>((resolve) => this.out.end(() => resolve()));
  }
}

// ---- shared measurement ----

type Targets = ReadonlySet<string>;

async function secretsReady(ctx: BenchContext, targets: Targets, name: string, selector: { labelSelector?: string; fieldSelector?: string }): Promise<number> {
  return (await fanOutState(ctx.admin.kc, targets, name, selector, MOTO_ECR_CREDENTIAL)).secrets;
}

function requestsSince(ctx: BenchContext, mark: number, user: string): { writes: RequestSummary; reads: RequestSummary } {
  const events = byUser(auditSince(ctx.auditLog, mark), user);
  return { writes: summarize(events.filter(isWrite)), reads: summarize(events.filter((e) => !isWrite(e))) };
}

/** After convergence: WINDOW_INTERVALS refresh intervals with nothing changed; calls (moto) and writes (audit) in them. */
async function refreshWindow(
  ctx: BenchContext,
  moto: MotoServer,
  user: string,
  check: () => Promise<number>,
  memory: () => { rssKiB: number; hwmKiB: number },
  refreshWrite: string,
): Promise<NonNullable<PeerToolResult['refresh']>> {
  const windowMs = WINDOW_INTERVALS * REFRESH_INTERVAL_S * 1000;
  const mark = auditMark(ctx.auditLog);
  const callsBefore = moto.tokenCalls().length;
  const started = Date.now();
  let minValid = Number.POSITIVE_INFINITY;
  let samples = 0;
  while (Date.now() - started < windowMs) {
    // A sample every 10 s: every namespace keeps a valid Secret through the refreshes.
    try {
      minValid = Math.min(minValid, await check());
      samples++;
    } catch {
      // a failed list is not a finding about the tool
    }
    await sleep(Math.min(10_000, Math.max(0, windowMs - (Date.now() - started))));
  }
  const providerCalls = moto.tokenCalls().length - callsBefore;
  const elapsed = Date.now() - started;
  await sleep(1000);
  const { writes, reads } = requestsSince(ctx, mark, user);
  const intervals = elapsed / (REFRESH_INTERVAL_S * 1000);
  // Each refresh ends in one status write: the operator's of the RegistryCredential (all namespaces at once),
  // ESO's of one ExternalSecret (one namespace).
  const refreshes = writes.byKind[refreshWrite] ?? 0;
  return {
    refreshes,
    refreshWrite,
    callsPerRefresh: refreshes > 0 ? providerCalls / refreshes : undefined,
    intervalS: REFRESH_INTERVAL_S,
    windowMs: elapsed,
    intervals,
    providerCalls,
    callsPerInterval: providerCalls / intervals,
    writes,
    writesPerInterval: writes.total / intervals,
    reads,
    minValidSecrets: Number.isFinite(minValid) ? minValid : undefined,
    validitySamples: samples,
    rssMiB: memory().rssKiB / MiB,
  };
}

// ---- the operator side ----

async function runOperatorSide(ctx: BenchContext, targets: Targets, size: number, moto: MotoServer): Promise<PeerToolResult> {
  const result: PeerToolResult = {
    tool: 'regcred-operator',
    user: OPERATOR_USER,
    patchesServiceAccounts: true,
    config: `RegistryCredential ${OPERATOR_CREDENTIAL}: ecr (region ${REGION}, static keys from Secret regcred-system/${OPERATOR_AWS_SOURCE}), namespaces by label, serviceAccounts [default], refresh.schedule "${OPERATOR_SCHEDULE}"; moto says the token expires in 12 h, so the schedule is what refreshes it in the window; default flags`,
  };
  await createOpaqueSecret(ctx.admin.core, OPERATOR_AWS_SOURCE, { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY });
  const env = awsTestEnv(moto.url, ctx.dir, REGION);
  const operator: OperatorProcess = startOperator(ctx, `peer-${size}`, 'info', [], env);
  try {
    await operator.cachesSynced(timeoutFor(60_000, 20, size));
    await sleep(1000);
    const timeoutMs = timeoutFor(60_000, 60, size);
    const selector = { labelSelector: `${CREDENTIAL_LABEL}=${OPERATOR_CREDENTIAL}` };
    const mark = auditMark(ctx.auditLog);
    const callsBefore = moto.tokenCalls().length;
    const started = Date.now();
    await createCredential(ctx.admin.custom, OPERATOR_CREDENTIAL, {
      ecr: { region: REGION, credentialsSecretRef: { name: OPERATOR_AWS_SOURCE } },
      namespaces: { selector: { matchLabels: { [TARGET_LABEL]: 'true' } } },
      serviceAccounts: { names: ['default'] },
      refresh: { schedule: OPERATOR_SCHEDULE },
    });
    const outcome = await pollFanOut(
      () => fanOutState(ctx.admin.kc, targets, OPERATOR_CREDENTIAL, selector, MOTO_ECR_CREDENTIAL),
      targets.size,
      started,
      timeoutMs,
      POLL_INTERVAL_MS,
    );
    const providerCalls = moto.tokenCalls().length - callsBefore;
    await sleep(1000);
    const memory = operator.memory();
    const { writes, reads } = requestsSince(ctx, mark, OPERATOR_USER);
    result.fanOut = {
      ms: outcome.secretsMs,
      withServiceAccountsMs: outcome.ms,
      timeoutMs,
      detail: outcome.last ? `secrets ${outcome.last.secrets}/${targets.size}, service accounts ${outcome.last.accounts}/${targets.size}` : 'no successful list',
      polls: outcome.polls,
      meanPollPeriodMs: outcome.meanPeriodMs,
      providerCalls,
      writes,
      reads,
      rssMiB: memory.rssKiB / MiB,
    };
    progress(`size ${size}: peer: operator (ECR) ${fmt(outcome.secretsMs)} to every Secret, ${fmt(outcome.ms)} with SA entries; ${providerCalls} GetAuthorizationToken`);
    if (outcome.ms === undefined) throw new StageError('operator fan-out', `did not converge within ${Math.round(timeoutMs / 1000)} s (${result.fanOut.detail})`);
    progress(`size ${size}: peer: operator, watching ${WINDOW_INTERVALS} refresh intervals of ${REFRESH_INTERVAL_S} s`);
    const op = operator;
    result.refresh = await refreshWindow(ctx, moto, OPERATOR_USER, () => secretsReady(ctx, targets, OPERATOR_CREDENTIAL, selector), () => op.memory(), 'patch registrycredentials/status');
    result.peakRssMiB = peakMiB(operator.memory(), result);
    result.warnings = operator.warnings().length;
    const status = await credentialStatus(ctx.admin.custom, OPERATOR_CREDENTIAL);
    result.status = status ? { syncedNamespaces: status.syncedNamespaces, patchedServiceAccounts: status.patchedServiceAccounts, ready: status.conditions?.find((c) => c.type === 'Ready')?.status } : undefined;

    // Clean up with the same process: it removes its Secrets and ServiceAccount entries.
    await deleteCredential(ctx.admin.custom, OPERATOR_CREDENTIAL);
    await waitUntil(
      'the ECR RegistryCredential, its Secrets and ServiceAccount entries to be gone',
      async () => {
        if ((await credentialStatus(ctx.admin.custom, OPERATOR_CREDENTIAL)) !== undefined) return undefined;
        const left = await fanOutState(ctx.admin.kc, targets, OPERATOR_CREDENTIAL, selector, MOTO_ECR_CREDENTIAL);
        return left.secrets === 0 && left.accounts === 0 ? true : undefined;
      },
      timeoutFor(60_000, 60, size),
      500,
    );
  } catch (err) {
    result.error = failure(err, 'operator');
  } finally {
    await operator.stop();
    await deleteOpaqueSecret(ctx.admin.core, OPERATOR_AWS_SOURCE);
  }
  return result;
}

// ---- the ESO side ----

function esoSpec(): Record<string, unknown> {
  // ESO's documented pattern for registry tokens from a generator (docs/api/generator/*.md): the generator's
  // keys (username, password, proxy_endpoint, expires_at for ECR) rendered into a dockerconfigjson by a template.
  const dockerconfig =
    '{"auths":{"{{ .proxy_endpoint | replace "https://" "" }}":{"username":"{{ .username }}","password":"{{ .password }}","auth":"{{ printf "%s:%s" .username .password | b64enc }}"}}}';
  return {
    refreshInterval: `${REFRESH_INTERVAL_S}s`,
    target: {
      name: ESO_NAME,
      creationPolicy: 'Owner',
      template: { type: 'kubernetes.io/dockerconfigjson', engineVersion: 'v2', data: { '.dockerconfigjson': dockerconfig } },
    },
    dataFrom: [{ sourceRef: { generatorRef: { apiVersion: 'generators.external-secrets.io/v1alpha1', kind: 'ClusterGenerator', name: ESO_NAME } } }],
  };
}

async function createClusterObject(ctx: BenchContext, group: string, version: string, plural: string, kind: string, name: string, spec: unknown): Promise<void> {
  await ctx.admin.custom.createClusterCustomObject({ group, version, plural, body: { apiVersion: `${group}/${version}`, kind, metadata: { name }, spec } });
}

async function deleteClusterObject(ctx: BenchContext, group: string, version: string, plural: string, name: string): Promise<void> {
  try {
    await ctx.admin.custom.deleteClusterCustomObject({ group, version, plural, name });
  } catch (err) {
    if (statusCode(err) !== 404) throw err;
  }
}

/** Makes test/support/moto.ts find the project's virtualenv when it runs from the compiled bench (its root is the build directory there). */
function linkVenv(ctx: BenchContext): void {
  if (TEST_SUPPORT_ROOT === ctx.root) return;
  const link = join(TEST_SUPPORT_ROOT, '.venv');
  try {
    lstatSync(link);
  } catch {
    symlinkSync(join(ctx.root, '.venv'), link);
  }
}

async function runEsoSide(ctx: BenchContext, targets: Targets, size: number, moto: MotoServer, peer: PeerResult): Promise<PeerToolResult> {
  const result: PeerToolResult = {
    tool: `external-secrets ${ESO_VERSION}`,
    user: ESO_USER,
    patchesServiceAccounts: false,
    config: `ClusterGenerator ${ESO_NAME} (ECRAuthorizationToken, region ${REGION}) and ClusterExternalSecret ${ESO_NAME} (namespaceSelectors by label, refreshInterval ${REFRESH_INTERVAL_S}s, template type kubernetes.io/dockerconfigjson); controller flags: defaults (--concurrent ${ESO_CONCURRENT}, client QPS 50 / burst 100) but --metrics-addr on a free loopback port; no webhook, no cert controller, no leader election`,
  };
  let stage = 'build';
  let eso: EsoProcess | undefined;
  let proxy: EcrProxy | undefined;
  try {
    const { path, build } = await ensureEsoBinary(ctx);
    peer.esoBuild = build;
    stage = 'install';
    const install = await ensureEsoInstalled(ctx);
    peer.esoCrds = { installed: install.crds, conversionWebhooksStripped: install.conversionWebhooksStripped, typedFields: install.typedFields };
    stage = 'proxy';
    proxy = await startEcrProxy(ctx.dir, moto);
    stage = 'start';
    const metricsPort = await freePort();
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: ctx.dir,
      KUBECONFIG: install.kubeconfig,
      HTTPS_PROXY: proxy.url,
      NO_PROXY: '127.0.0.1,localhost',
      AWS_CA_BUNDLE: proxy.caFile,
      AWS_ACCESS_KEY_ID: ACCESS_KEY,
      AWS_SECRET_ACCESS_KEY: SECRET_KEY,
      AWS_REGION: REGION,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_CONFIG_FILE: join(ctx.dir, 'no-aws-config'),
      AWS_SHARED_CREDENTIALS_FILE: join(ctx.dir, 'no-aws-credentials'),
    };
    const args = ['--metrics-addr', `127.0.0.1:${metricsPort}`, '--loglevel', 'info', '--zap-time-encoding', 'iso8601', '--concurrent', String(ESO_CONCURRENT)];
    result.command = `${path.slice(ctx.root.length + 1)} ${args.join(' ')}`;
    const spawnedAt = Date.now();
    eso = new EsoProcess(path, args, env, join(ctx.dir, `external-secrets-${size}.log`));
    const proc = eso;
    const startDeadline = Date.now() + timeoutFor(60_000, 20, size);
    for (;;) {
      if (!proc.running) {
        await proc.exited;
        throw new StageError('start', `exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.lines.slice(-3).map((l) => l.msg ?? '').join(' | ')} (log: ${proc.logFile})`, result.command);
      }
      const workers = new Set(proc.lines.filter((l) => l.msg === 'Starting workers').map((l) => l.controller));
      if (workers.has('externalsecret') && workers.has('clusterexternalsecret')) break;
      if (Date.now() > startDeadline) throw new StageError('start', `no "Starting workers" for the externalsecret and clusterexternalsecret controllers (log: ${proc.logFile})`, result.command);
      await sleep(250);
    }
    result.startToWorkersMs = Date.now() - spawnedAt;
    await sleep(1000);

    stage = 'fan-out';
    const timeoutMs = timeoutFor(120_000, 300, size);
    const selector = { fieldSelector: `metadata.name=${ESO_NAME}` };
    await createClusterObject(ctx, 'generators.external-secrets.io', 'v1alpha1', 'clustergenerators', 'ClusterGenerator', ESO_NAME, {
      kind: 'ECRAuthorizationToken',
      generator: { ecrAuthorizationTokenSpec: { region: REGION } },
    });
    const mark = auditMark(ctx.auditLog);
    const callsBefore = moto.tokenCalls().length;
    const started = Date.now();
    await createClusterObject(ctx, 'external-secrets.io', 'v1', 'clusterexternalsecrets', 'ClusterExternalSecret', ESO_NAME, {
      externalSecretName: ESO_NAME,
      namespaceSelectors: [{ matchLabels: { [TARGET_LABEL]: 'true' } }],
      refreshTime: '1m',
      externalSecretSpec: esoSpec(),
    });
    const outcome = await pollFanOut(() => fanOutState(ctx.admin.kc, targets, ESO_NAME, selector, MOTO_ECR_CREDENTIAL), targets.size, started, timeoutMs, POLL_INTERVAL_MS, true);
    const providerCalls = moto.tokenCalls().length - callsBefore;
    await sleep(1000);
    const memory = eso.memory();
    const { writes, reads } = requestsSince(ctx, mark, ESO_USER);
    result.fanOut = {
      ms: outcome.ms,
      timeoutMs,
      detail: outcome.last ? `secrets ${outcome.last.secrets}/${targets.size}` : 'no successful list',
      polls: outcome.polls,
      meanPollPeriodMs: outcome.meanPeriodMs,
      providerCalls,
      writes,
      reads,
      rssMiB: memory.rssKiB / MiB,
    };
    progress(`size ${size}: peer: external-secrets ${fmt(outcome.ms)} to every Secret; ${providerCalls} GetAuthorizationToken`);
    if (outcome.ms === undefined) throw new StageError('fan-out', `did not converge within ${Math.round(timeoutMs / 1000)} s (${result.fanOut.detail}; log: ${eso.logFile})`);

    stage = 'refresh window';
    progress(`size ${size}: peer: external-secrets, watching ${WINDOW_INTERVALS} refresh intervals of ${REFRESH_INTERVAL_S} s`);
    result.refresh = await refreshWindow(ctx, moto, ESO_USER, () => secretsReady(ctx, targets, ESO_NAME, selector), () => proc.memory(), 'update externalsecrets/status');
    result.peakRssMiB = peakMiB(eso.memory(), result);
    result.warnings = eso.errors().length;
    result.proxy = { tunnels: proxy.tunnels, requests: proxy.requests, refused: [...proxy.refused] };

    stage = 'clean-up';
    await deleteClusterObject(ctx, 'external-secrets.io', 'v1', 'clusterexternalsecrets', ESO_NAME);
    await waitUntil(
      'the ClusterExternalSecret, its ExternalSecrets and their Secrets to be gone',
      async () => {
        const es = await rawGet<{ items: unknown[] }>(ctx.admin.kc, '/apis/external-secrets.io/v1/externalsecrets', { fieldSelector: `metadata.name=${ESO_NAME}` });
        const secrets = await rawGet<{ items: V1Secret[] }>(ctx.admin.kc, '/api/v1/secrets', selector);
        return es.items.length === 0 && secrets.items.length === 0 ? true : undefined;
      },
      timeoutFor(60_000, 120, size),
      1000,
    );
  } catch (err) {
    result.error = failure(err, stage);
    progress(`size ${size}: peer: external-secrets failed (${result.error.stage}): ${result.error.message}`);
  } finally {
    await eso?.stop();
    await proxy?.close();
    await deleteClusterObject(ctx, 'external-secrets.io', 'v1', 'clusterexternalsecrets', ESO_NAME).catch(() => undefined);
    await deleteClusterObject(ctx, 'generators.external-secrets.io', 'v1alpha1', 'clustergenerators', ESO_NAME).catch(() => undefined);
  }
  return result;
}

/** VmHWM, or the largest VmRSS sampled if that is higher (the kernel updates the high-water mark lazily). */
function peakMiB(now: { rssKiB: number; hwmKiB: number }, t: PeerToolResult): number {
  return Math.max(now.hwmKiB / MiB, now.rssKiB / MiB, t.fanOut?.rssMiB ?? 0, t.refresh?.rssMiB ?? 0);
}

function failure(err: unknown, stage: string): PeerFailure {
  return err instanceof StageError ? { stage: err.stage, command: err.command, message: err.message } : { stage, message: errorMessage(err) };
}

function fmt(ms: number | undefined): string {
  return ms === undefined ? 'did not converge' : `${(ms / 1000).toFixed(2)} s`;
}

/** The scenario at one size: the operator, then ESO, each from a clean state, against one moto. */
export async function peer(ctx: BenchContext, targetList: readonly string[], size: number): Promise<PeerResult> {
  const targets = new Set(targetList);
  const result: PeerResult = {
    targets: targets.size,
    registry: MOTO_ECR_CREDENTIAL.registry,
    motoVersion: MOTO_VERSION,
    refreshIntervalS: REFRESH_INTERVAL_S,
    esoVersion: ESO_VERSION,
    esoEndpointOverride: `HTTPS_PROXY (a local CONNECT proxy terminating TLS for ${ECR_API_HOST} and forwarding to moto) + AWS_CA_BUNDLE (its private CA); ESO ${ESO_VERSION} has no ECR endpoint setting`,
    esoAuth: ESO_AWS_NOTE,
  };
  let moto: MotoServer | undefined;
  try {
    linkVenv(ctx);
    moto = await startMoto({ ecrTokenExpiresAt: new Date(Math.floor(Date.now() / 1000) * 1000 + 12 * 3600_000) });
  } catch (err) {
    result.error = { stage: 'moto', command: 'startMoto() (test/support/moto.ts)', message: errorMessage(err) };
    return result;
  }
  try {
    progress(`size ${size}: peer: operator, ECR credential from moto`);
    result.operator = await runOperatorSide(ctx, targets, size, moto);
    progress(`size ${size}: peer: external-secrets ${ESO_VERSION}, ECR generator from moto`);
    result.eso = await runEsoSide(ctx, targets, size, moto, result);
  } finally {
    await moto.stop();
  }
  return result;
}
