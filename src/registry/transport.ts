/**
 * How the prober reaches a registry, the way a container runtime does: HTTPS with the system roots
 * (plus an optional CA bundle), the proxy from HTTPS_PROXY / HTTP_PROXY / NO_PROXY, never a proxy for a
 * loopback host (Go's `http.ProxyFromEnvironment`, which containerd and Docker use), a timeout per
 * request, and redirects followed by hand so that an Authorization header never leaves its origin.
 * Failures are classified from the error's `cause` chain into what a user can act on.
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { ReadableStream, ReadableStreamReadResult } from 'node:stream/web';
import { rootCertificates } from 'node:tls';
import { Agent, EnvHttpProxyAgent, fetch, type Dispatcher } from 'undici';
import { closeWithin } from '../close.js';

export type FailureKind = 'dns' | 'tcp' | 'tls' | 'timeout' | 'proxy' | 'other';

export interface TransportFailure {
  kind: FailureKind;
  /** The system or library code (ENOTFOUND, ECONNREFUSED, UNABLE_TO_VERIFY_LEAF_SIGNATURE…), when known. */
  code?: string;
  /** What went wrong and what to do, without the host: "the name does not resolve (ENOTFOUND): …". */
  detail: string;
}

/** A request that got no HTTP answer. Its message names the host and the kind of failure, nothing else. */
export class TransportError extends Error {
  constructor(
    readonly host: string,
    readonly failure: TransportFailure,
  ) {
    super(`${host}: ${failure.detail}`);
    this.name = 'TransportError';
  }
}

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);
const TCP_CODES: Record<string, string> = {
  ECONNREFUSED: 'refused the connection',
  ECONNRESET: 'reset the connection',
  EHOSTUNREACH: 'is unreachable (no route to host)',
  ENETUNREACH: 'is unreachable (network unreachable)',
  ETIMEDOUT: 'did not accept the connection in time',
  EPIPE: 'closed the connection',
  ECONNABORTED: 'aborted the connection',
  UND_ERR_SOCKET: 'closed the connection',
  UND_ERR_CLOSED: 'closed the connection',
};
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);
const UNKNOWN_AUTHORITY_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);
const NOT_TLS_CODES = new Set(['ERR_SSL_WRONG_VERSION_NUMBER', 'ERR_SSL_PACKET_LENGTH_TOO_LONG', 'ERR_SSL_HTTP_REQUEST', 'EPROTO']);

interface ErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  cause?: unknown;
  errors?: unknown;
}

/** Every error of a chain: the error, its causes, and the members of AggregateErrors (happy eyeballs). */
function errorChain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  const queue: unknown[] = [err];
  while (queue.length > 0 && out.length < 20) {
    const e = queue.shift();
    if (!e || typeof e !== 'object' || out.includes(e)) continue;
    const el = e as ErrorLike;
    out.push(el);
    if (el.cause !== undefined) queue.push(el.cause);
    if (Array.isArray(el.errors)) queue.push(...(el.errors as unknown[]));
  }
  return out;
}

/** Classifies a fetch failure (undici's `TypeError: fetch failed` and its causes, or an abort). */
export function classifyError(err: unknown): TransportFailure {
  const chain = errorChain(err);
  const codes = chain.map((e) => (typeof e.code === 'string' ? e.code : '')).filter((c) => c !== '');
  const names = chain.map((e) => (typeof e.name === 'string' ? e.name : ''));
  const messages = chain.map((e) => (typeof e.message === 'string' ? e.message : ''));
  if (names.includes('TimeoutError') || codes.some((c) => TIMEOUT_CODES.has(c))) {
    return { kind: 'timeout', code: codes.find((c) => TIMEOUT_CODES.has(c)), detail: 'did not answer in time (timeout): check that the registry is up and reachable from the operator (firewall, proxy)' };
  }
  const proxy = messages.find((m) => /proxy/i.test(m));
  if (proxy !== undefined) {
    const status = /\((\d{3})\)/.exec(proxy)?.[1];
    return {
      kind: 'proxy',
      code: codes[0],
      detail: `could not be reached through the proxy${status ? ` (the proxy answered ${status})` : ''}: check HTTPS_PROXY / HTTP_PROXY and NO_PROXY`,
    };
  }
  const tlsCode = codes.find((c) => UNKNOWN_AUTHORITY_CODES.has(c) || NOT_TLS_CODES.has(c) || c.startsWith('ERR_SSL_') || c.startsWith('ERR_TLS_') || c.startsWith('CERT_'));
  if (tlsCode !== undefined) {
    let what: string;
    if (UNKNOWN_AUTHORITY_CODES.has(tlsCode)) what = 'certificate signed by an unknown authority: trust your CA with --registry-ca-file';
    else if (tlsCode === 'CERT_HAS_EXPIRED') what = 'the certificate has expired: renew the registry certificate';
    else if (tlsCode === 'CERT_NOT_YET_VALID') what = 'the certificate is not yet valid: check the registry certificate and the clocks';
    else if (tlsCode === 'ERR_TLS_CERT_ALTNAME_INVALID') what = 'the certificate is not valid for this host name: use a name the certificate lists';
    else if (NOT_TLS_CODES.has(tlsCode)) what = 'the server does not speak TLS on this port (plain HTTP?): serve HTTPS, as the kubelet pulls over HTTPS';
    else what = 'the TLS handshake failed: check the registry certificate';
    return { kind: 'tls', code: tlsCode, detail: `TLS error (${tlsCode}): ${what}` };
  }
  const dns = codes.find((c) => DNS_CODES.has(c));
  if (dns !== undefined) {
    return { kind: 'dns', code: dns, detail: `the host name does not resolve (DNS ${dns}): check the registry name and the cluster's DNS` };
  }
  const tcp = codes.find((c) => c in TCP_CODES);
  if (tcp !== undefined) {
    return { kind: 'tcp', code: tcp, detail: `${TCP_CODES[tcp]} (TCP ${tcp}): check the host and port, that the registry is running, and network policies` };
  }
  const other = codes[0] ?? names.find((n) => n !== '' && n !== 'TypeError' && n !== 'Error');
  return { kind: 'other', ...(other ? { code: other } : {}), detail: `could not be reached${other ? ` (${other})` : ''}: check the registry address` };
}

/** Whether a host[:port] is a loopback address or `localhost` (127.0.0.0/8, ::1). */
export function isLoopbackHost(hostPort: string): boolean {
  let host = hostPort;
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed) host = bracketed[1]!;
  else if (host.split(':').length === 2) host = host.slice(0, host.indexOf(':'));
  host = host.toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || host === '0:0:0:0:0:0:0:1';
  return false;
}

export interface RegistryResponse {
  status: number;
  headers: Headers;
  /** The body of a GET (at most 64 KiB, for its error code); '' for a HEAD. */
  body: string;
  /** The URL that answered (after redirects). */
  url: string;
}

export interface TransportOptions {
  timeoutMs: number;
  caFile?: string;
  proxyEnv: NodeJS.ProcessEnv;
}

const MAX_BODY = 64 * 1024;
const MAX_REDIRECTS = 5;

/** Reads at most MAX_BODY characters of a body and drops the rest. */
async function readCapped(body: ReadableStream<Uint8Array> | null): Promise<string> {
  if (!body) return '';
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const chunk: ReadableStreamReadResult<Uint8Array> = await reader.read();
    if (chunk.done) break;
    text += decoder.decode(chunk.value, { stream: true });
    if (text.length >= MAX_BODY) {
      await reader.cancel();
      break;
    }
  }
  return text.slice(0, MAX_BODY);
}

function envValue(env: NodeJS.ProcessEnv, name: string): string {
  return env[name.toLowerCase()] ?? env[name] ?? '';
}

/** One pooled set of connections per verifier: a proxying dispatcher and a direct one for loopback. */
export class Transport {
  private readonly proxied: Dispatcher;
  private readonly direct: Dispatcher;

  constructor(private readonly options: TransportOptions) {
    const ca = options.caFile ? [...rootCertificates, readFileSync(options.caFile, 'utf8')] : undefined;
    const tls = ca ? { ca } : {};
    const connect = { ...tls, timeout: options.timeoutMs };
    this.direct = new Agent({ connect });
    this.proxied = new EnvHttpProxyAgent({
      connect,
      requestTls: tls,
      proxyTls: tls,
      httpProxy: envValue(options.proxyEnv, 'HTTP_PROXY'),
      httpsProxy: envValue(options.proxyEnv, 'HTTPS_PROXY'),
      noProxy: envValue(options.proxyEnv, 'NO_PROXY'),
    });
  }

  /**
   * One request, redirects followed by hand (an Authorization header is dropped when the redirect
   * leaves the origin). Rejects with a TransportError when there is no HTTP answer, or with the
   * caller's abort reason when `signal` aborted.
   */
  async request(url: string, init: { method: 'GET' | 'HEAD'; headers?: Record<string, string>; signal: AbortSignal }): Promise<RegistryResponse> {
    let current = new URL(url);
    let headers = { ...init.headers };
    for (let hop = 0; ; hop++) {
      const res = await this.once(current, init.method, headers, init.signal);
      const location = res.status >= 300 && res.status < 400 ? res.headers.get('location') : null;
      if (location === null || hop >= MAX_REDIRECTS) return res;
      const next = new URL(location, current);
      if (next.origin !== current.origin) {
        headers = Object.fromEntries(Object.entries(headers).filter(([k]) => k.toLowerCase() !== 'authorization'));
      }
      current = next;
    }
  }

  private async once(url: URL, method: 'GET' | 'HEAD', headers: Record<string, string>, outer: AbortSignal): Promise<RegistryResponse> {
    const timeout = AbortSignal.timeout(this.options.timeoutMs);
    const signal = AbortSignal.any([outer, timeout]);
    const dispatcher = isLoopbackHost(url.host) ? this.direct : this.proxied;
    try {
      const res = await fetch(url, { method, headers, signal, redirect: 'manual', dispatcher });
      const body = method === 'GET' ? await readCapped(res.body as ReadableStream<Uint8Array> | null) : '';
      if (method !== 'GET') await res.body?.cancel();
      return { status: res.status, headers: res.headers as unknown as Headers, body, url: url.toString() };
    } catch (err) {
      if (outer.aborted) throw outer.reason;
      throw new TransportError(url.host, classifyError(timeout.aborted ? timeout.reason : err));
    }
  }

  /** At shutdown: probes still running are aborted after a short grace (src/close.ts). */
  async close(): Promise<void> {
    await Promise.all([closeWithin(this.direct), closeWithin(this.proxied)]);
  }
}
