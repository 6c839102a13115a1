/**
 * The `.dockerconfigjson` payload of a pull secret: building it byte-for-byte deterministically (so an
 * unchanged credential never causes a write) and checking one a user supplies (so a malformed source
 * is reported instead of breaking every pull of every pod that uses it).
 *
 * Messages produced here name registries and fields, never usernames, passwords or tokens.
 */

import type { ProviderCredential, RegistryLogin } from '../providers/types.js';

export interface DockerAuthEntry {
  username: string;
  password: string;
  auth: string;
}

export interface DockerConfigJson {
  auths: Record<string, DockerAuthEntry>;
}

/** The username and password the kubelet would send to one registry. */
export interface UsernamePassword {
  username: string;
  password: string;
}

export interface ParsedDockerConfig {
  /** Sorted auths keys. */
  registries: string[];
  /** The login the kubelet would use for each key (`auth` wins over username/password, as in the kubelet). */
  auths: Record<string, UsernamePassword>;
  /** The same logins as `auths`, sorted by registry: what buildDockerConfigJson takes. */
  logins: RegistryLogin[];
}

export type ParseDockerConfigResult = { ok: true; value: ParsedDockerConfig } | { ok: false; message: string };

/** base64("user:password"), the form the kubelet decodes from an `auth` field. */
export function encodeBasicAuth(username: string, password: string): string {
  return Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
}

/** The registries a credential is for, sorted: what status reports. */
export function registriesOf(credential: ProviderCredential): string[] {
  return credential.logins.map((login) => login.registry).sort();
}

/**
 * Why buildDockerConfigJson would refuse these logins, or undefined if it would not. Providers call
 * it to report the problem under their own reason (a bad spec, a bad Secret, a bad cloud answer)
 * before anything is built. Names registries only, never usernames or passwords.
 */
export function checkLogins(logins: readonly RegistryLogin[]): string | undefined {
  if (logins.length === 0) return 'cannot build a dockerconfigjson without any registry';
  if (logins.some((login) => login.registry === '')) return 'cannot build a dockerconfigjson with an empty registry name';
  const seen = new Set<string>();
  for (const { registry } of logins) {
    // Two logins for one auths key: whichever won would be an accident of order.
    if (seen.has(registry)) return `cannot build a dockerconfigjson: registry ${JSON.stringify(registry)} has more than one login`;
    seen.add(registry);
  }
  for (const { registry, username, password } of logins) {
    const where = ` (registry ${JSON.stringify(registry)})`;
    if (username === '' || password === '') return `cannot build a dockerconfigjson with an empty username or password${where}`;
    // The kubelet splits `auth` at the first colon, so a colon in the username would shift it into the password.
    if (username.includes(':')) return `cannot build a dockerconfigjson: the username contains ":"${where}`;
  }
  return undefined;
}

/**
 * The one place a dockerconfigjson document is written. Byte-for-byte deterministic (keys sorted,
 * fields in a fixed order), so that an unchanged credential never causes a write.
 *
 * Throws on input that would produce a pull secret the kubelet rejects or misreads (see checkLogins):
 * the caller treats that as a failed mint, which must never overwrite a working Secret.
 */
export function buildDockerConfigJson(logins: readonly RegistryLogin[]): string {
  const problem = checkLogins(logins);
  if (problem !== undefined) throw new Error(problem);
  // Not localeCompare: the order must not depend on the operator's locale.
  const sorted = [...logins].sort((a, b) => (a.registry < b.registry ? -1 : a.registry > b.registry ? 1 : 0));
  const auths: Record<string, DockerAuthEntry> = {};
  for (const { registry, username, password } of sorted) {
    auths[registry] = { username, password, auth: encodeBasicAuth(username, password) };
  }
  const config: DockerConfigJson = { auths };
  return JSON.stringify(config);
}

export function parseDockerConfigJson(text: string): ParseDockerConfigResult {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    // The parser's own message quotes the input, which may be a password: keep only the position.
    return fail(`dockerconfigjson is not valid JSON${jsonErrorPosition(error)}`);
  }
  if (!isPlainObject(parsed)) return fail('dockerconfigjson must be a JSON object with an "auths" object');
  const auths = parsed.auths;
  if (!isPlainObject(auths)) {
    return fail('dockerconfigjson has no "auths" object (the legacy .dockercfg layout is not accepted)');
  }
  const registries = Object.keys(auths).sort();
  if (registries.length === 0) return fail('dockerconfigjson "auths" is empty: add at least one registry');

  const byRegistry: Record<string, UsernamePassword> = {};
  const logins: RegistryLogin[] = [];
  for (const registry of registries) {
    const login = parseAuthEntry(registry, auths[registry]);
    if (typeof login === 'string') return fail(login);
    byRegistry[registry] = login;
    logins.push({ registry, ...login });
  }
  return { ok: true, value: { registries, auths: byRegistry, logins } };
}

/** Returns the login, or a message describing what is wrong with the entry. */
function parseAuthEntry(registry: string, entry: unknown): UsernamePassword | string {
  const where = `dockerconfigjson auths[${JSON.stringify(registry)}]`;
  if (registry === '') return 'dockerconfigjson "auths" has an empty registry key';
  if (!isPlainObject(entry)) return `${where} must be an object`;
  if (entry.auth !== undefined && entry.auth !== '') return decodeAuthField(where, entry.auth);
  const { username, password } = entry;
  if (isNonEmptyString(username) && isNonEmptyString(password)) return { username, password };
  return `${where} has neither "auth" nor both "username" and "password"`;
}

function decodeAuthField(where: string, auth: unknown): UsernamePassword | string {
  if (typeof auth !== 'string') return `${where}.auth must be a string`;
  // Strict, padded standard base64: what the kubelet's decoder accepts. Buffer.from alone accepts anything.
  if (auth.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(auth)) return `${where}.auth is not valid base64`;
  const decoded = Buffer.from(auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return `${where}.auth does not decode to "username:password"`;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (username === '' || password === '') return `${where}.auth decodes to an empty username or password`;
  return { username, password };
}

function jsonErrorPosition(error: unknown): string {
  const match = error instanceof Error ? /at position (\d+)/.exec(error.message) : null;
  return match ? ` (error at character ${match[1]})` : '';
}

function fail(message: string): { ok: false; message: string } {
  return { ok: false, message };
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function isNonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value !== '';
}
