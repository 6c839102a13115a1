import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback } from './net-stubs.js';

/**
 * A local stand-in for Docker Hub (registry-1.docker.io with auth.docker.io), reproducing what the
 * prober relies on: `/v2/` answers 401 `Bearer realm="<token URL>",service="registry.docker.io"`; the
 * token endpoint checks Basic credentials (401 `{"details":"incorrect username or password"}`) and
 * grants `pull` only on public repositories and the user's own; manifests answer only to a token with
 * pull on that repository (else 401 insufficient_scope); `ratelimitpreview/test` reports
 * `ratelimit-limit` / `ratelimit-remaining` / `docker-ratelimit-source`; a 429 mode answers manifest
 * requests with Docker Hub's TOOMANYREQUESTS body. Every request is recorded.
 */
export const DOCKER_HUB_SERVICE = 'registry.docker.io';
export const TOO_MANY_REQUESTS_BODY = JSON.stringify({
  errors: [
    {
      code: 'TOOMANYREQUESTS',
      message: 'You have reached your pull rate limit. You may increase the limit by authenticating and upgrading: https://www.docker.com/increase-rate-limit',
    },
  ],
});

export interface DockerHubUser {
  password: string;
  /** The user's private repositories (`alice/private`). */
  repositories?: string[];
}

export interface RecordedRequest {
  method: string;
  path: string;
  /** The scope parameters of a token request. */
  scopes?: string[];
  authenticated: boolean;
  status: number;
}

export interface DockerHubStandIn {
  /** http://127.0.0.1:PORT: the prober's `dockerHubRegistryUrl`. */
  url: string;
  requests: RecordedRequest[];
  /** Every token the token endpoint issued (for tests that check none leaks). */
  issuedTokens: string[];
  setRemaining(remaining: number): void;
  setRateLimited(limited: boolean): void;
  stop(): Promise<void>;
}

const MANIFEST = JSON.stringify({
  schemaVersion: 2,
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${'0'.repeat(64)}`, size: 2 },
  layers: [],
});
const MANIFEST_DIGEST = `sha256:${createHash('sha256').update(MANIFEST).digest('hex')}`;

export async function startDockerHubStandIn(options: {
  users: Record<string, DockerHubUser>;
  /** Public repositories with their tags: `{ 'library/busybox': ['latest'] }`. ratelimitpreview/test is always there. */
  publicRepositories?: Record<string, string[]>;
  limit?: number;
  remaining?: number;
}): Promise<DockerHubStandIn> {
  const publicRepos: Record<string, string[]> = { ...options.publicRepositories, 'ratelimitpreview/test': ['latest'] };
  const privateTags = new Map<string, string[]>();
  for (const u of Object.values(options.users)) for (const r of u.repositories ?? []) privateTags.set(r, ['latest']);
  const tokens = new Map<string, { user?: string; pull: Set<string> }>();
  const requests: RecordedRequest[] = [];
  const issuedTokens: string[] = [];
  let remaining = options.remaining ?? 187;
  let rateLimited = false;
  let port = 0;
  const realm = (): string => `http://127.0.0.1:${port}/token`;

  const json = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };
  const challenge = (scope?: string, error?: string): string =>
    `Bearer realm="${realm()}",service="${DOCKER_HUB_SERVICE}"${scope ? `,scope="${scope}"` : ''}${error ? `,error="${error}"` : ''}`;

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://hub.local');
    const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const grant = bearer ? tokens.get(bearer) : undefined;
    const record: RecordedRequest = { method: req.method ?? '', path: url.pathname, authenticated: req.headers.authorization !== undefined, status: 0 };
    requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      record.status = status;
      if (req.method === 'HEAD') {
        res.writeHead(status, headers);
        res.end();
      } else json(res, status, body, headers);
    };

    if (url.pathname === '/token') {
      const scopes = url.searchParams.getAll('scope');
      record.scopes = scopes;
      if (url.searchParams.get('service') !== DOCKER_HUB_SERVICE) return send(400, { details: 'invalid service' });
      let user: string | undefined;
      if (req.headers.authorization !== undefined) {
        const m = /^Basic\s+(\S+)$/i.exec(req.headers.authorization);
        const decoded = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
        const colon = decoded.indexOf(':');
        const name = decoded.slice(0, colon);
        if (colon === -1 || options.users[name]?.password !== decoded.slice(colon + 1)) return send(401, { details: 'incorrect username or password' });
        user = name;
      }
      const pull = new Set<string>();
      for (const scope of scopes) {
        const m = /^repository:([^:]+):(.+)$/.exec(scope);
        if (!m || !m[2]!.split(',').includes('pull')) continue;
        const repo = m[1]!;
        if (repo in publicRepos || (user !== undefined && (options.users[user]?.repositories ?? []).includes(repo))) pull.add(repo);
      }
      const token = randomBytes(24).toString('base64url');
      tokens.set(token, { ...(user ? { user } : {}), pull });
      issuedTokens.push(token);
      return send(200, { token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() });
    }

    if (url.pathname === '/v2/' || url.pathname === '/v2') {
      if (!grant) return send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: null }] }, { 'www-authenticate': challenge() });
      return send(200, {}, { 'docker-distribution-api-version': 'registry/2.0' });
    }

    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(url.pathname);
    if (manifest && (req.method === 'GET' || req.method === 'HEAD')) {
      const [, repo, reference] = manifest as unknown as [string, string, string];
      const scope = `repository:${repo}:pull`;
      if (!grant || !grant.pull.has(repo)) {
        return send(401, { errors: [{ code: 'UNAUTHORIZED', message: 'authentication required', detail: [{ Type: 'repository', Name: repo, Action: 'pull' }] }] }, {
          'www-authenticate': challenge(scope, grant ? 'insufficient_scope' : undefined),
        });
      }
      const limits: Record<string, string> = {
        'ratelimit-limit': `${options.limit ?? 200};w=21600`,
        'ratelimit-remaining': `${rateLimited ? 0 : remaining};w=21600`,
        'docker-ratelimit-source': grant.user ? createHash('sha256').update(grant.user).digest('hex').slice(0, 32) : '127.0.0.1',
      };
      if (rateLimited) return send(429, TOO_MANY_REQUESTS_BODY, limits);
      const tags = publicRepos[repo] ?? privateTags.get(repo) ?? [];
      if (!tags.includes(reference) && reference !== MANIFEST_DIGEST) {
        return send(404, { errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown', detail: { Tag: reference } }] }, limits);
      }
      if (req.method === 'GET' && repo !== 'ratelimitpreview/test' && remaining > 0) remaining--;
      record.status = 200;
      const headers = {
        ...limits,
        'content-type': 'application/vnd.oci.image.manifest.v1+json',
        'docker-content-digest': MANIFEST_DIGEST,
        'content-length': String(Buffer.byteLength(MANIFEST)),
      };
      res.writeHead(200, headers);
      res.end(req.method === 'HEAD' ? undefined : MANIFEST);
      return;
    }
    send(404, { errors: [{ code: 'NOT_FOUND', message: 'not found' }] });
  };

  const server = createServer(handle);
  const listening = await listenOnLoopback(server);
  port = listening.port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    issuedTokens,
    setRemaining(n) {
      remaining = n;
    },
    setRateLimited(limited) {
      rateLimited = limited;
    },
    stop: listening.close,
  };
}
