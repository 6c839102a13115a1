/**
 * Which entry of a dockerconfigjson the kubelet uses for an image: a port of the matching rules of
 * the kubelet's credential keyring (k8s.io/kubernetes/pkg/credentialprovider/keyring.go,
 * `BasicDockerKeyring.Add` / `Lookup` and `URLsMatch`).
 *
 * - An auths key loses its scheme; a path of `/v1/` or `/v2/` counts as none (`https://index.docker.io/v1/`
 *   is the key `index.docker.io`).
 * - A key matches an image name when the ports are equal, the hosts have as many dot-separated parts,
 *   each part matches as a glob (`*.gcr.io`), and the key's path is a string prefix of the image's path.
 * - Keys are tried most specific first (reverse-sorted), every matching key's login in turn: the kubelet
 *   pulls with the first one that works.
 * - When no key matches and the image is on Docker Hub, the key `index.docker.io` is used.
 * - All of a pod's pull Secrets go into one keyring, in the order the pod lists them.
 */

export interface KeyringEntry<T> {
  /** The auths key as written. */
  key: string;
  /** The key as the kubelet indexes it: host[:port][/path]. */
  indexKey: string;
  value: T;
}

import { DOCKER_HUB_REGISTRY_HOST, registryApiHost } from './reference.js';

const DEFAULT_REGISTRY_HOST = 'index.docker.io';

/** host[:port][/path] of an auths key, as the kubelet's `Add` computes it. */
export function keyringIndexKey(authKey: string): string {
  const schemeless = authKey.replace(/^https?:\/\//, '');
  const slash = schemeless.indexOf('/');
  const hostPart = slash === -1 ? schemeless : schemeless.slice(0, slash);
  let path = slash === -1 ? '' : schemeless.slice(slash);
  // Go's url.Parse keeps only the path: drop a query or fragment.
  path = path.replace(/[?#].*$/, '');
  if (path.startsWith('/v2/') || path.startsWith('/v1/')) path = path.slice(3);
  return path.length > 0 && path !== '/' ? hostPart + path : hostPart;
}

interface SchemelessUrl {
  hostParts: string[];
  port: string;
  path: string;
}

function parseSchemeless(value: string): SchemelessUrl {
  const slash = value.indexOf('/');
  const hostPort = slash === -1 ? value : value.slice(0, slash);
  const path = slash === -1 ? '' : value.slice(slash);
  let hostName = hostPort;
  let port = '';
  const bracketed = /^\[([^\]]*)\](?::(\d*))?$/.exec(hostPort);
  if (bracketed) {
    hostName = bracketed[1]!;
    port = bracketed[2] ?? '';
  } else {
    const colon = hostPort.lastIndexOf(':');
    // net.SplitHostPort fails on a bare host (or more than one colon outside brackets): no port then.
    if (colon !== -1 && hostPort.indexOf(':') === colon) {
      hostName = hostPort.slice(0, colon);
      port = hostPort.slice(colon + 1);
    }
  }
  return { hostParts: hostName.split('.'), port, path };
}

/** Go's filepath.Match for one host part (no separators in a host part). */
export function globMatch(pattern: string, text: string): boolean {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '\\' && i + 1 < pattern.length) re += escapeRe(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 1);
      if (end === -1) return false; // filepath.ErrBadPattern: the kubelet treats it as no match
      let body = pattern.slice(i + 1, end);
      if (body.startsWith('^')) body = `^${body.slice(1)}`;
      re += `[${body.replace(/\\(?!.)/g, '\\\\')}]`;
      i = end;
    } else re += escapeRe(c);
  }
  try {
    return new RegExp(`${re}$`).test(text);
  } catch {
    return false;
  }
}

function escapeRe(c: string): string {
  return c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/** The kubelet's URLsMatchStr(glob, target), both schemeless. */
export function urlsMatch(glob: string, target: string): boolean {
  const g = parseSchemeless(glob);
  const t = parseSchemeless(target);
  if (g.port !== t.port) return false;
  if (g.hostParts.length !== t.hostParts.length) return false;
  if (!t.path.startsWith(g.path)) return false;
  return g.hostParts.every((part, i) => globMatch(part, t.hostParts[i]!));
}

/** The kubelet's isDefaultRegistryMatch: would this image name pull from Docker Hub? */
export function isDefaultRegistryMatch(image: string): boolean {
  const slash = image.indexOf('/');
  const first = slash === -1 ? image : image.slice(0, slash);
  if (first.length === 0) return false;
  if (slash === -1) return true;
  if (first === 'docker.io' || first === 'index.docker.io') return true;
  return !/[.:]/.test(first) && first !== 'localhost';
}

/** A keyring over auths keys from one or more dockerconfigjson documents, in the order given. */
export class Keyring<T> {
  private readonly byKey = new Map<string, KeyringEntry<T>[]>();
  private index: string[] = [];

  add(key: string, value: T): void {
    const indexKey = keyringIndexKey(key);
    const list = this.byKey.get(indexKey) ?? [];
    list.push({ key, indexKey, value });
    this.byKey.set(indexKey, list);
    // The kubelet keeps the index unique and reverse-sorted: more specific paths match first.
    this.index = [...this.byKey.keys()].sort().reverse();
  }

  /** The entries the kubelet would try for an image name (`domain/repository`, no tag), in order. */
  lookup(imageName: string): KeyringEntry<T>[] {
    const found = this.index.filter((k) => urlsMatch(k, imageName)).flatMap((k) => this.byKey.get(k)!);
    if (found.length > 0) return found;
    if (isDefaultRegistryMatch(imageName)) return this.byKey.get(DEFAULT_REGISTRY_HOST) ?? [];
    return [];
  }
}

/** The registry host whose /v2/ API an auths key names, or undefined for a glob (nothing to probe). */
export function probeHostOfKey(authKey: string): { host: string; pathPrefix: string } | undefined {
  const indexKey = keyringIndexKey(authKey);
  const slash = indexKey.indexOf('/');
  const hostPort = slash === -1 ? indexKey : indexKey.slice(0, slash);
  const pathPrefix = slash === -1 ? '' : indexKey.slice(slash + 1).replace(/\/+$/, '');
  if (/[*?[\]\\]/.test(hostPort.replace(/^\[[^\]]*\]/, ''))) return undefined;
  return { host: registryApiHost(hostPort), pathPrefix };
}

/** Whether an auths key is Docker Hub's (`https://index.docker.io/v1/`, `docker.io`, …). */
export function isDockerHubKey(authKey: string): boolean {
  return probeHostOfKey(authKey)?.host === DOCKER_HUB_REGISTRY_HOST;
}
