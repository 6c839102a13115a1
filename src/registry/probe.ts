/**
 * The registry prober: does a credential actually pull? It speaks the Docker Registry HTTP API v2 the
 * way a container runtime does — `GET /v2/`, the challenge it answers (Basic, or Bearer through the
 * registry's token service), `HEAD` of the manifests of the images the user named — and turns each
 * answer into a `HostOutcome` (src/registry/types.ts). For Docker Hub it also reads the pull headroom
 * from the `ratelimit-*` headers of a HEAD (which does not count as a pull).
 *
 * Nothing secret leaves this module: messages, log lines and errors carry hosts, images, HTTP statuses
 * and registry error codes; passwords, tokens and Authorization headers stay in local variables.
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import type { Logger } from '../observability/logger.js';
import type { RegistryLogin } from '../providers/types.js';
import { formatWindow, parseChallenges, parseRateLimit, pickChallenge, registryErrorCode, type AuthChallenge } from './challenge.js';
import { Keyring, probeHostOfKey } from './keyring.js';
import { DOCKER_HUB_REGISTRY_HOST, parseImageReference, registryApiHost, type ImageReference } from './reference.js';
import { isLoopbackHost, Transport, TransportError, type RegistryResponse } from './transport.js';
import type { HostOutcome, ProbeReason, RateLimitHeadroom, VerificationRequest, VerificationResult, Verifier } from './types.js';

export interface VerifierOptions {
  /** Per request (each of the handshake, token and manifest requests). Default 10 s. */
  timeoutMs?: number;
  /** Hosts probed at once, across all verifications of this verifier. Default 4. */
  concurrency?: number;
  /** A PEM bundle trusted in addition to the system roots. */
  caFile?: string;
  /** Test only: where Docker Hub's registry API answers instead of https://registry-1.docker.io. */
  dockerHubRegistryUrl?: string;
  /** Where HTTPS_PROXY / HTTP_PROXY / NO_PROXY are read. Default process.env. */
  proxyEnv?: NodeJS.ProcessEnv;
  log?: Logger;
}

/** A Verifier that owns pooled connections: close it when done. */
export interface RegistryVerifier extends Verifier {
  close(): Promise<void>;
}

export const MANIFEST_ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

/** The repository whose headroom Docker Hub reports without counting a pull. */
export const RATE_LIMIT_PREVIEW_REPOSITORY = 'ratelimitpreview/test';

interface Handshake {
  base: string;
  response: RegistryResponse;
}

type Auth = { header?: string; scheme: 'none' | 'basic' | 'bearer' } | { outcome: Omit<HostOutcome, 'host'> };

interface ImageJob {
  index: number;
  image: string;
  ref: ImageReference;
  logins: RegistryLogin[];
}

interface HostJob {
  host: string;
  /** Index of the host outcome in the result, when a login names this host. */
  index?: number;
  logins: RegistryLogin[];
  pathPrefixes: string[];
  images: ImageJob[];
}

const outcome = (reason: ProbeReason, message: string): Omit<HostOutcome, 'host'> => ({ reason, message });

function statusPhrase(res: RegistryResponse): string {
  const code = res.body !== '' ? registryErrorCode(res.body) : undefined;
  const challengeError = pickChallenge(parseChallenges(res.headers.get('www-authenticate')))?.params.error;
  const detail = code ?? (challengeError && /^[a-z_]{1,64}$/i.test(challengeError) ? challengeError : undefined);
  return detail ? `${res.status} ${detail}` : `${res.status}`;
}

/** What an answer other than 200/401/403/404 means, for any request. */
function otherStatus(where: string, what: string, res: RegistryResponse): Omit<HostOutcome, 'host'> {
  if (res.status === 429) {
    return outcome('RateLimited', `${where} answered ${statusPhrase(res)} to ${what}: the pull rate limit is reached; wait for the window to reset, or use an account with a higher limit.`);
  }
  if (res.status >= 500) {
    return outcome('Unreachable', `${where} answered ${statusPhrase(res)} to ${what}: the registry is failing; it is retried, check the registry's status if it persists.`);
  }
  return outcome('Unreachable', `${where} answered ${statusPhrase(res)} to ${what}, which a Docker Registry HTTP API v2 does not: check the registry address.`);
}

function transportOutcome(err: TransportError, what: string): Omit<HostOutcome, 'host'> {
  return outcome('Unreachable', `${err.host} could not be reached for ${what}: ${err.failure.detail}.`);
}

function basicHeader(login: RegistryLogin): string {
  return `Basic ${Buffer.from(`${login.username}:${login.password}`).toString('base64')}`;
}

/** Parses the token of a token service's answer (`token`, or OAuth2's `access_token`). */
function tokenOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { token?: unknown; access_token?: unknown };
    const token = typeof parsed.token === 'string' && parsed.token !== '' ? parsed.token : parsed.access_token;
    return typeof token === 'string' && token !== '' ? token : undefined;
  } catch {
    return undefined;
  }
}

function guessHost(image: string): string {
  const first = image.trim().split('/')[0] ?? '';
  return image.includes('/') && (/[.:]/.test(first) || first === 'localhost') ? registryApiHost(first) : DOCKER_HUB_REGISTRY_HOST;
}

/** One verification: its handshakes and tokens live as long as it does. */
class Verification {
  private readonly handshakes = new Map<string, Promise<Handshake | TransportError>>();
  private readonly tokens = new Map<string, Promise<Auth>>();
  private readonly loginIds = new Map<RegistryLogin, string>();
  private readonly logins = new Map<string, Promise<Omit<HostOutcome, 'host'>>>();
  rateLimit?: RateLimitHeadroom;

  constructor(
    private readonly transport: Transport,
    private readonly signal: AbortSignal,
    private readonly dockerHubUrl: string | undefined,
    private readonly log: Logger | undefined,
  ) {}

  private async send(host: string, url: string, method: 'GET' | 'HEAD', headers: Record<string, string> = {}): Promise<RegistryResponse> {
    const started = Date.now();
    const res = await this.transport.request(url, { method, headers, signal: this.signal });
    this.log?.debug({ host, method, path: new URL(url).pathname, status: res.status, ms: Date.now() - started }, 'registry answered');
    return res;
  }

  /** GET /v2/ without credentials, once per host: which scheme answers, and what it asks for. */
  handshake(host: string): Promise<Handshake | TransportError> {
    let pending = this.handshakes.get(host);
    if (!pending) {
      pending = this.doHandshake(host);
      this.handshakes.set(host, pending);
    }
    return pending;
  }

  private async doHandshake(host: string): Promise<Handshake | TransportError> {
    if (host === DOCKER_HUB_REGISTRY_HOST && this.dockerHubUrl !== undefined) {
      const base = this.dockerHubUrl.replace(/\/+$/, '');
      return this.tryHandshake(host, base);
    }
    const https = await this.tryHandshake(host, `https://${host}`);
    if (!(https instanceof TransportError) || !isLoopbackHost(host)) return https;
    // Like Docker and containerd for a loopback registry: plain HTTP when HTTPS fails to connect.
    // A TLS server answering the plain request (400 "HTTP request to an HTTPS server") is no registry:
    // the HTTPS failure is the one that says what is wrong.
    const http = await this.tryHandshake(host, `http://${host}`);
    if (http instanceof TransportError || http.response.status === 400) return https;
    this.log?.debug({ host, https: https.failure.kind }, 'registry reached over plain HTTP after HTTPS failed');
    return http;
  }

  private async tryHandshake(host: string, base: string): Promise<Handshake | TransportError> {
    try {
      return { base, response: await this.send(host, `${base}/v2/`, 'GET') };
    } catch (err) {
      if (err instanceof TransportError) return err;
      throw err;
    }
  }

  private loginId(login: RegistryLogin): string {
    let id = this.loginIds.get(login);
    if (id === undefined) {
      // Equal credentials share tokens; the digest never leaves this map.
      id = createHash('sha256').update(`${login.username}\0${login.password}`).digest('hex');
      this.loginIds.set(login, id);
    }
    return id;
  }

  /** The Authorization header a challenge asks for, or the outcome of failing to get it. */
  authorize(host: string, challenge: AuthChallenge | undefined, login: RegistryLogin, repository: string | undefined): Promise<Auth> {
    if (!challenge) {
      return Promise.resolve({
        outcome: outcome('Unauthorized', `${host} answered 401 without a challenge the kubelet can answer (Basic or Bearer): check the registry address and its authentication settings.`),
      });
    }
    if (challenge.scheme === 'basic') return Promise.resolve({ header: basicHeader(login), scheme: 'basic' });
    const scope = repository ? `repository:${repository}:pull` : '';
    const key = `${challenge.params.realm}\0${challenge.params.service ?? ''}\0${scope}\0${this.loginId(login)}`;
    let pending = this.tokens.get(key);
    if (!pending) {
      pending = this.fetchToken(host, challenge, login, scope);
      this.tokens.set(key, pending);
    }
    return pending;
  }

  private async fetchToken(host: string, challenge: AuthChallenge, login: RegistryLogin, scope: string): Promise<Auth> {
    let realm: URL;
    try {
      realm = new URL(challenge.params.realm!);
    } catch {
      return { outcome: outcome('Unreachable', `${host} names a token service that is not a URL: check the registry's token auth settings.`) };
    }
    if (challenge.params.service) realm.searchParams.set('service', challenge.params.service);
    if (scope !== '') realm.searchParams.append('scope', scope);
    const where = `the token service ${realm.host} of ${host}`;
    const headers: Record<string, string> = login.username !== '' || login.password !== '' ? { authorization: basicHeader(login) } : {};
    let res: RegistryResponse;
    try {
      res = await this.send(realm.host, realm.toString(), 'GET', headers);
    } catch (err) {
      if (err instanceof TransportError) return { outcome: transportOutcome(err, `a token of ${host}`) };
      throw err;
    }
    if (res.status === 401 || res.status === 403) {
      return {
        outcome: outcome('Unauthorized', `${where} rejected the credential (${statusPhrase(res)}): check the username and password (or access token) of this credential.`),
      };
    }
    if (res.status !== 200) return { outcome: otherStatus(where, 'a token request', res) };
    const token = tokenOf(res.body);
    if (token === undefined) {
      return { outcome: outcome('Unreachable', `${where} answered 200 without a token: check the registry's token auth settings.`) };
    }
    return { header: `Bearer ${token}`, scheme: 'bearer' };
  }

  /** Whether a login authenticates at a host (once per host and credential in a verification). */
  checkLogin(host: string, login: RegistryLogin, repository: string | undefined): Promise<Omit<HostOutcome, 'host'>> {
    const key = `${host}\0${this.loginId(login)}`;
    let pending = this.logins.get(key);
    if (!pending) {
      pending = this.doCheckLogin(host, login, repository);
      this.logins.set(key, pending);
    }
    return pending;
  }

  /** The handshake, the challenge, and GET /v2/ again with the credential. */
  private async doCheckLogin(host: string, login: RegistryLogin, repository: string | undefined): Promise<Omit<HostOutcome, 'host'>> {
    const hs = await this.handshake(host);
    if (hs instanceof TransportError) return transportOutcome(hs, 'GET /v2/');
    const first = hs.response;
    if (first.status === 200) {
      return outcome('Verified', `${host} answered 200 to GET /v2/ without credentials (anonymous access): the credential is not needed there; name an image in spec.verify.images to check a pull.`);
    }
    if (first.status !== 401) return otherStatus(host, 'GET /v2/', first);
    const challenge = pickChallenge(parseChallenges(first.headers.get('www-authenticate')));
    const auth = await this.authorize(host, challenge, login, repository);
    if ('outcome' in auth) return auth.outcome;
    let res: RegistryResponse;
    try {
      res = await this.send(host, `${hs.base}/v2/`, 'GET', auth.header ? { authorization: auth.header } : {});
    } catch (err) {
      if (err instanceof TransportError) return transportOutcome(err, 'GET /v2/');
      throw err;
    }
    const how = auth.scheme === 'bearer' ? 'a token from its token service' : 'HTTP Basic authentication';
    if (res.status === 200) return outcome('Verified', `${host} accepted the credential (GET /v2/ answered 200 with ${how}).`);
    if (res.status === 401) {
      return outcome('Unauthorized', `${host} rejected the credential (GET /v2/ answered ${statusPhrase(res)} with ${how}): check the username and password (or access token) of this credential.`);
    }
    if (res.status === 403) return outcome('Denied', `${host} refused the credential (GET /v2/ answered ${statusPhrase(res)}): the account is not allowed to use this registry; ask its administrator.`);
    return otherStatus(host, 'GET /v2/', res);
  }

  /** HEAD of a manifest with a login, authenticated per the registry's challenge for that repository. */
  async checkImage(host: string, image: string, ref: ImageReference, login: RegistryLogin): Promise<Omit<HostOutcome, 'host'>> {
    const hs = await this.handshake(host);
    if (hs instanceof TransportError) return transportOutcome(hs, `${image}`);
    const url = `${hs.base}/v2/${ref.repository}/manifests/${ref.reference}`;
    const what = `HEAD of the manifest of ${image}`;
    let challengeFrom: RegistryResponse | undefined = hs.response.status === 401 ? hs.response : undefined;
    let auth: Auth = { scheme: 'none' };
    let res: RegistryResponse | undefined;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (challengeFrom) {
        auth = await this.authorize(host, pickChallenge(parseChallenges(challengeFrom.headers.get('www-authenticate'))), login, ref.repository);
        if ('outcome' in auth) return auth.outcome;
      }
      try {
        res = await this.send(host, url, 'HEAD', { accept: MANIFEST_ACCEPT, ...(auth.header ? { authorization: auth.header } : {}) });
      } catch (err) {
        if (err instanceof TransportError) return transportOutcome(err, what);
        throw err;
      }
      // A registry open at /v2/ may still ask for credentials for a repository: answer once.
      if (res.status === 401 && auth.scheme === 'none' && !challengeFrom) challengeFrom = res;
      else break;
    }
    res = res!;
    if (res.status === 200) return outcome('Verified', `${host} serves ${image} to this credential (${what} answered 200).`);
    if (res.status === 404) {
      return outcome('ImageNotFound', `${host} has no ${image} (${what} answered 404): check the repository, tag or digest in spec.verify.images.`);
    }
    if (res.status === 401 && auth.scheme === 'none') {
      return outcome('Unauthorized', `${host} asks for credentials for ${image} (${what} answered ${statusPhrase(res)}) with no challenge the kubelet can answer: check the registry's authentication settings.`);
    }
    if (res.status === 401 && auth.scheme === 'basic' && (await this.checkLogin(host, login, ref.repository)).reason !== 'Verified') {
      // With Basic, a 401 is the password's fault unless the same password opens /v2/.
      return outcome('Unauthorized', `${host} rejected the credential for ${image} (${what} answered ${statusPhrase(res)} with HTTP Basic authentication): check the username and password (or access token) of this credential.`);
    }
    if (res.status === 401 || res.status === 403) {
      return outcome('Denied', `${host} denied ${image} to this credential (${what} answered ${statusPhrase(res)} after authentication): grant the account pull access to ${ref.repository}.`);
    }
    return otherStatus(host, what, res);
  }

  /** Docker Hub's pull headroom, from a HEAD of ratelimitpreview/test (not counted as a pull). */
  async readHeadroom(host: string, login: RegistryLogin): Promise<Omit<HostOutcome, 'host'> | undefined> {
    const hs = await this.handshake(host);
    if (hs instanceof TransportError) return undefined;
    const challenge = pickChallenge(parseChallenges(hs.response.headers.get('www-authenticate')));
    let header: string | undefined;
    if (hs.response.status === 401) {
      const auth = await this.authorize(host, challenge, login, RATE_LIMIT_PREVIEW_REPOSITORY);
      if ('outcome' in auth) return undefined;
      header = auth.header;
    }
    let res: RegistryResponse;
    try {
      res = await this.send(host, `${hs.base}/v2/${RATE_LIMIT_PREVIEW_REPOSITORY}/manifests/latest`, 'HEAD', {
        accept: MANIFEST_ACCEPT,
        ...(header ? { authorization: header } : {}),
      });
    } catch (err) {
      if (err instanceof TransportError) return undefined;
      throw err;
    }
    const limits = parseRateLimit(res.headers);
    if (limits) this.rateLimit = { ...limits, checkedAt: new Date() };
    if (res.status === 429) {
      return outcome('RateLimited', `${host} answered 429 (TOOMANYREQUESTS) to the rate-limit check: the pull rate limit is reached; wait for the window to reset, or use an account with a higher limit.`);
    }
    if (limits && limits.remaining === 0) {
      return outcome('RateLimited', `${host} accepted the credential, but it has 0 of ${limits.limit} pulls left in the ${formatWindow(limits.windowSeconds)} window: pulls fail until it resets; use an account with a higher limit.`);
    }
    return undefined;
  }
}

/** Creates a prober. One pool of connections (and one concurrency limit) serves all its verifications. */
export function createVerifier(options: VerifierOptions = {}): RegistryVerifier {
  const transport = new Transport({ timeoutMs: options.timeoutMs ?? 10_000, caFile: options.caFile, proxyEnv: options.proxyEnv ?? process.env });
  const limit = pLimit(options.concurrency ?? 4);
  const log = options.log;

  async function runHost(v: Verification, job: HostJob, outcomes: HostOutcome[]): Promise<void> {
    if (job.index !== undefined) {
      const repository = job.images[0]?.ref.repository ?? job.pathPrefixes.find((p) => p !== '');
      // Every credential for this host (equal ones are checked once); the first failure speaks for the host.
      let result: Omit<HostOutcome, 'host'> | undefined;
      for (const login of job.logins) {
        const r = await v.checkLogin(job.host, login, repository);
        if (!result || (result.reason === 'Verified' && r.reason !== 'Verified')) result = r;
      }
      if (job.host === DOCKER_HUB_REGISTRY_HOST && result?.reason === 'Verified') {
        result = (await v.readHeadroom(job.host, job.logins[0]!)) ?? result;
      }
      outcomes[job.index] = { host: job.host, ...result! };
    } else if (job.host === DOCKER_HUB_REGISTRY_HOST && job.images[0]) {
      await v.readHeadroom(job.host, job.images[0].logins[0]!);
    }
    for (const img of job.images) {
      // The kubelet tries every matching login in turn and pulls with the first that works.
      let first: Omit<HostOutcome, 'host'> | undefined;
      for (const login of img.logins) {
        const r = await v.checkImage(job.host, img.image, img.ref, login);
        first ??= r;
        if (r.reason === 'Verified') {
          first = r;
          break;
        }
        if (r.reason !== 'Unauthorized' && r.reason !== 'Denied') break;
      }
      outcomes[img.index] = { host: job.host, image: img.image, ...first! };
    }
  }

  return {
    async verify(request: VerificationRequest): Promise<VerificationResult> {
      const started = performance.now();
      request.signal.throwIfAborted();
      const v = new Verification(transport, request.signal, options.dockerHubRegistryUrl, log);
      const outcomes: HostOutcome[] = [];
      const jobs = new Map<string, HostJob>();
      const jobOf = (host: string): HostJob => {
        let job = jobs.get(host);
        if (!job) {
          job = { host, logins: [], pathPrefixes: [], images: [] };
          jobs.set(host, job);
        }
        return job;
      };
      let slot = 0;
      for (const login of request.logins) {
        const target = probeHostOfKey(login.registry);
        if (!target) continue;
        const job = jobOf(target.host);
        if (job.index === undefined) job.index = slot++;
        job.logins.push(login);
        job.pathPrefixes.push(target.pathPrefix);
      }
      const keyring = new Keyring<RegistryLogin>();
      for (const login of request.logins) keyring.add(login.registry, login);
      for (const image of request.images) {
        const index = slot++;
        const parsed = parseImageReference(image);
        if (!parsed.ok) {
          outcomes[index] = {
            host: guessHost(image),
            image,
            ...outcome('InvalidImage', `spec.verify.images entry ${JSON.stringify(image)} is not an image reference: ${parsed.message}.`),
          };
          continue;
        }
        const ref = parsed.value;
        const host = registryApiHost(ref.domain);
        const logins = keyring.lookup(ref.name).map((e) => e.value);
        if (logins.length === 0) {
          outcomes[index] = {
            host,
            image,
            ...outcome(
              'InvalidImage',
              `no auths entry of this credential covers ${image}; the kubelet would not use it for this image: add its registry to the credential or remove the image from spec.verify.images.`,
            ),
          };
          continue;
        }
        jobOf(host).images.push({ index, image, ref, logins });
      }
      await Promise.all([...jobs.values()].map((job) => limit(() => runHost(v, job, outcomes))));
      const durationMs = Math.round(performance.now() - started);
      log?.debug({ hosts: jobs.size, images: request.images.length, reasons: outcomes.map((o) => o.reason), durationMs }, 'registry verification done');
      return { outcomes: outcomes.filter((o) => o !== undefined), ...(v.rateLimit ? { rateLimit: v.rateLimit } : {}), durationMs };
    },
    close: () => transport.close(),
  };
}
