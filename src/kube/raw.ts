import { ApiException, HttpMethod, RequestContext, type KubeConfig } from '@kubernetes/client-node';
import { request } from 'undici';

/**
 * One API request as plain JSON, authenticated and sent exactly as client-node sends its own (its
 * KubeConfig adds the credentials, the User-Agent and the pooled connection, src/kube/connection.ts), but
 * without its generated API classes: they turn every body into model objects and back (ObjectSerializer),
 * and build a fetch Request with its streams for each call. In a fan-out of 40,000 writes that was the
 * largest part of the operator's CPU time after the writes themselves (a CPU profile of `npm run bench`).
 * Lists, watches' resumes and the fan-out's writes go through here; rarer calls keep client-node's APIs.
 *
 * A failed request throws client-node's ApiException (status, Status body, headers), which
 * src/kube/errors.ts classifies as it does client-node's own.
 */
export interface KubeRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Path from the server's root, e.g. /api/v1/namespaces/a/secrets. */
  path: string;
  query?: Record<string, string | undefined>;
  body?: unknown;
  /** For PATCH: application/merge-patch+json. */
  contentType?: string;
}

const METHODS: Record<KubeRequest['method'], HttpMethod> = {
  GET: HttpMethod.GET,
  POST: HttpMethod.POST,
  PUT: HttpMethod.PUT,
  PATCH: HttpMethod.PATCH,
  DELETE: HttpMethod.DELETE,
};

export async function kubeRequest<T>(kubeConfig: KubeConfig, req: KubeRequest): Promise<T> {
  const server = kubeConfig.getCurrentCluster()?.server;
  if (!server) throw new Error('No currently active cluster');
  const url = new URL(server + req.path);
  for (const [key, value] of Object.entries(req.query ?? {})) if (value !== undefined) url.searchParams.set(key, value);
  const ctx = new RequestContext(url.toString(), METHODS[req.method]);
  await kubeConfig.applySecurityAuthentication(ctx);
  const headers: Record<string, string> = { ...ctx.getHeaders(), Accept: 'application/json' };
  if (req.body !== undefined) headers['Content-Type'] = req.contentType ?? 'application/json';
  const response = await request(url, {
    method: req.method,
    headers,
    body: req.body === undefined ? undefined : JSON.stringify(req.body),
    dispatcher: ctx.getDispatcher(),
  });
  const text = await response.body.text();
  if (response.statusCode < 200 || response.statusCode >= 300) {
    let body: unknown = text;
    try {
      body = JSON.parse(text) as unknown;
    } catch {
      // A proxy's HTML page: keep it as text.
    }
    const message = typeof body === 'object' && body !== null && typeof (body as { message?: unknown }).message === 'string' ? (body as { message: string }).message : `HTTP ${response.statusCode}`;
    const responseHeaders: Record<string, string> = {};
    for (const [key, value] of Object.entries(response.headers)) if (value !== undefined) responseHeaders[key] = Array.isArray(value) ? value.join(', ') : value;
    throw new ApiException(response.statusCode, message, body, responseHeaders);
  }
  return (text ? JSON.parse(text) : undefined) as T;
}

/** The path of a namespaced object or collection, each part escaped. */
export function namespacedPath(group: string, resource: string, namespace: string, name?: string): string {
  const base = `${group}/namespaces/${encodeURIComponent(namespace)}/${resource}`;
  return name === undefined ? base : `${base}/${encodeURIComponent(name)}`;
}
