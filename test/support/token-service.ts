import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { importPKCS8, SignJWT } from 'jose';
import { listenOnLoopback } from './net-stubs.js';

/**
 * A Docker Registry v2 token service (the `auth: token` mode of distribution): checks HTTP Basic
 * against a user table, grants per repository only what the user's ACL allows, and signs ES256 JWTs
 * whose `x5c` header holds a self-signed certificate (made with openssl) that the registry trusts
 * through `rootcertbundle`. Claims as distribution 2.8 verifies them: iss, sub, aud (= service), exp,
 * nbf, iat, jti and `access: [{type, name, actions}]`.
 */
export interface TokenUser {
  password: string;
  /** Repositories the user may pull ('*' for all). */
  pull: string[];
  /** Repositories the user may push to ('*' for all). */
  push?: string[];
}

export interface TokenRequestRecord {
  service: string | null;
  scopes: string[];
  /** The user named by the Basic credentials, or undefined for an anonymous request. */
  user?: string;
  status: number;
}

export interface TokenService {
  /** The token endpoint: the registry's `realm`. */
  realm: string;
  service: string;
  issuer: string;
  /** PEM of the signing certificate: the registry's `rootcertbundle`. */
  rootCertBundle: string;
  requests: TokenRequestRecord[];
  /** Every token issued (for tests that check none leaks). */
  issuedTokens: string[];
  setUsers(users: Record<string, TokenUser>): void;
  stop(): Promise<void>;
}

function allows(list: readonly string[] | undefined, repo: string): boolean {
  return (list ?? []).some((r) => r === '*' || r === repo);
}

function parseBasic(header: string | undefined): { user: string; password: string } | undefined {
  const m = /^Basic\s+(\S+)$/i.exec(header ?? '');
  if (!m) return undefined;
  const decoded = Buffer.from(m[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon === -1 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

export async function startTokenService(options: { users: Record<string, TokenUser>; service?: string; issuer?: string }): Promise<TokenService> {
  const service = options.service ?? 'regcred-test-registry';
  const issuer = options.issuer ?? 'regcred-test-token-issuer';
  const dir = mkdtempSync(join(tmpdir(), 'regcred-token-'));
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', '/CN=regcred-test-token-signer'], { stdio: 'ignore' });
  const certPem = readFileSync(certFile, 'utf8');
  const x5c = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  const key = await importPKCS8(readFileSync(keyFile, 'utf8'), 'ES256');
  let users = options.users;
  const requests: TokenRequestRecord[] = [];
  const issuedTokens: string[] = [];

  const refuse = (res: ServerResponse, record: TokenRequestRecord, status: number, code: string, message: string): void => {
    record.status = status;
    res.writeHead(status, { 'content-type': 'application/json', ...(status === 401 ? { 'www-authenticate': 'Basic realm="regcred-test-token-service"' } : {}) });
    res.end(JSON.stringify({ errors: [{ code, message }] }));
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://token.local');
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    const record: TokenRequestRecord = { service: url.searchParams.get('service'), scopes, status: 0 };
    requests.push(record);
    if (req.method !== 'GET' || url.pathname !== '/token') return refuse(res, record, 404, 'NOT_FOUND', 'no such endpoint');
    if (record.service !== service) return refuse(res, record, 400, 'INVALID_REQUEST', `unknown service ${String(record.service)}`);
    let subject = '';
    let user: TokenUser | undefined;
    if (req.headers.authorization !== undefined) {
      const basic = parseBasic(req.headers.authorization);
      user = basic ? users[basic.user] : undefined;
      if (!basic || !user || user.password !== basic.password) return refuse(res, record, 401, 'UNAUTHORIZED', 'invalid username or password');
      subject = basic.user;
      record.user = basic.user;
    }
    const access = scopes.flatMap((scope) => {
      const first = scope.indexOf(':');
      const last = scope.lastIndexOf(':');
      if (first === -1 || last === first) return [];
      const type = scope.slice(0, first);
      const name = scope.slice(first + 1, last);
      const wanted = scope.slice(last + 1).split(',');
      if (type !== 'repository' || !user) return [];
      const granted = wanted.filter((a) => (a === 'pull' && allows(user.pull, name)) || (a === 'push' && allows(user.push, name)));
      return granted.length > 0 ? [{ type, name, actions: granted }] : [];
    });
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256', typ: 'JWT', x5c: [x5c] })
      .setIssuer(issuer)
      .setSubject(subject)
      .setAudience(service)
      .setIssuedAt(now)
      .setNotBefore(now - 10)
      .setExpirationTime(now + 300)
      .setJti(randomUUID())
      .sign(key);
    record.status = 200;
    issuedTokens.push(token);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date(now * 1000).toISOString() }));
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  const { port, close } = await listenOnLoopback(server);
  return {
    realm: `http://127.0.0.1:${port}/token`,
    service,
    issuer,
    rootCertBundle: certFile,
    requests,
    issuedTokens,
    setUsers(u) {
      users = u;
    },
    stop: close,
  };
}
