/**
 * Image references, as the kubelet reads them before a pull.
 *
 * The grammar and the normalisation are those of the distribution/reference Go package
 * (`ParseNormalizedNamed`: `nginx` → `docker.io/library/nginx`, `index.docker.io/x/y` → `docker.io/x/y`),
 * which the kubelet calls through `parsers.ParseImageName` before it looks up credentials. A reference
 * with neither tag nor digest means `:latest`.
 */

/** An image reference, normalised the way the kubelet normalises it. */
export interface ImageReference {
  /** The registry part: `docker.io`, `ghcr.io`, `127.0.0.1:5000`, `[::1]:5000`, `localhost`. */
  domain: string;
  /** The repository within the registry: `library/nginx`, `acme/api`. */
  repository: string;
  /** `domain/repository`: what the kubelet's keyring is asked about. */
  name: string;
  tag?: string;
  digest?: string;
  /** What a manifest request names: the digest if there is one, else the tag, else `latest`. */
  reference: string;
}

export type ParseReferenceResult = { ok: true; value: ImageReference } | { ok: false; message: string };

export const DOCKER_HUB_DOMAIN = 'docker.io';
const LEGACY_DOCKER_HUB_DOMAIN = 'index.docker.io';
/** Where Docker Hub's registry API answers: docker.io is only the name. */
export const DOCKER_HUB_REGISTRY_HOST = 'registry-1.docker.io';

// distribution/reference regexp.go
const alphanumeric = '[a-z0-9]+';
const separator = '(?:[._]|__|[-]+)';
const pathComponent = `${alphanumeric}(?:${separator}${alphanumeric})*`;
const domainComponent = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const ipv6 = '\\[(?:[a-fA-F0-9:]+)\\]';
const domainName = `${domainComponent}(?:\\.${domainComponent})*`;
const host = `(?:${domainName}|${ipv6})`;
const domainAndPort = `${host}(?::[0-9]+)?`;
const tag = '[\\w][\\w.-]{0,127}';
const digest = '[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}';
const DOMAIN_RE = new RegExp(`^${domainAndPort}$`);
const PATH_RE = new RegExp(`^${pathComponent}(?:/${pathComponent})*$`);
const TAG_RE = new RegExp(`^${tag}$`);
const DIGEST_RE = new RegExp(`^${digest}$`);
const BARE_DIGEST_RE = /^[a-f0-9]{64}$/;
const NAME_TOTAL_LENGTH_MAX = 255;

/** Splits the domain off the way distribution's splitDockerDomain does. */
function splitDockerDomain(name: string): { domain: string; remainder: string } {
  const slash = name.indexOf('/');
  let domain: string;
  let remainder: string;
  const first = slash === -1 ? '' : name.slice(0, slash);
  if (slash === -1 || (!/[.:]/.test(first) && first !== 'localhost' && first.toLowerCase() === first)) {
    domain = DOCKER_HUB_DOMAIN;
    remainder = name;
  } else {
    domain = first;
    remainder = name.slice(slash + 1);
  }
  if (domain === LEGACY_DOCKER_HUB_DOMAIN) domain = DOCKER_HUB_DOMAIN;
  if (domain === DOCKER_HUB_DOMAIN && !remainder.includes('/')) remainder = `library/${remainder}`;
  return { domain, remainder };
}

/**
 * Parses an image reference as the kubelet does. Errors say what is wrong in words close to the
 * kubelet's `InvalidImageName` messages.
 */
export function parseImageReference(image: string): ParseReferenceResult {
  const input = image.trim();
  if (input === '') return { ok: false, message: 'the image reference is empty' };
  if (BARE_DIGEST_RE.test(input)) {
    return { ok: false, message: `${JSON.stringify(image)} is a bare digest: name the repository too (repo@sha256:…)` };
  }
  let rest = input;
  let digestPart: string | undefined;
  const at = rest.indexOf('@');
  if (at !== -1) {
    digestPart = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST_RE.test(digestPart)) return { ok: false, message: `${JSON.stringify(image)}: invalid digest ${JSON.stringify(digestPart)}` };
  }
  // A tag follows the last colon after the last slash (a colon before it is a port).
  let tagPart: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tagPart = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tagPart)) return { ok: false, message: `${JSON.stringify(image)}: invalid tag ${JSON.stringify(tagPart)}` };
  }
  const { domain, remainder } = splitDockerDomain(rest);
  if (!DOMAIN_RE.test(domain)) return { ok: false, message: `${JSON.stringify(image)}: invalid registry ${JSON.stringify(domain)}` };
  if (remainder.toLowerCase() !== remainder) {
    return { ok: false, message: `${JSON.stringify(image)}: repository name must be lowercase` };
  }
  if (!PATH_RE.test(remainder)) return { ok: false, message: `${JSON.stringify(image)}: invalid repository name ${JSON.stringify(remainder)}` };
  const name = `${domain}/${remainder}`;
  if (name.length > NAME_TOTAL_LENGTH_MAX) {
    return { ok: false, message: `${JSON.stringify(image)}: repository name longer than ${NAME_TOTAL_LENGTH_MAX} characters` };
  }
  return {
    ok: true,
    value: {
      domain,
      repository: remainder,
      name,
      ...(tagPart !== undefined ? { tag: tagPart } : {}),
      ...(digestPart !== undefined ? { digest: digestPart } : {}),
      reference: digestPart ?? tagPart ?? 'latest',
    },
  };
}

/** The host whose /v2/ API serves a domain: Docker Hub's names map to registry-1.docker.io. */
export function registryApiHost(domain: string): string {
  return domain === DOCKER_HUB_DOMAIN || domain === LEGACY_DOCKER_HUB_DOMAIN ? DOCKER_HUB_REGISTRY_HOST : domain;
}
