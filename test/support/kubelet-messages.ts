/**
 * What the kubelet and the container runtimes write when a pull fails: Event messages and the
 * `state.waiting` message of a container status, as they appear in a cluster. Each text is assembled from
 * the format strings of the source named beside it (read from kubernetes/kubernetes and
 * containerd/containerd, containers/image for CRI-O), so the classification in src/doctor/classify.ts is
 * tested against what the sources print, not against our own paraphrase.
 *
 * How a failed pull reaches the API:
 * - kubernetes pkg/kubelet/images/image_manager.go, `EnsureImageExists`: Event reason `Failed`
 *   (events.FailedToPullImage) with `Failed to pull image %q: %v` (the CRI error), then the container
 *   waits with reason `ErrImagePull` and the CRI error as its message (`evalCRIPullErr`); while backing
 *   off, an Event reason `BackOff` (events.BackOffPullImage), `Back-off pulling image %q`, and the
 *   container waits with reason `ImagePullBackOff` and that message.
 * - kubernetes pkg/kubelet/kuberuntime/kuberuntime_container.go, `startContainer`: Event reason `Failed`
 *   (events.FailedToCreateContainer) `Error: %v` with the error's name: `Error: ErrImagePull`,
 *   `Error: ImagePullBackOff`, `Error: InvalidImageName`.
 * - image_manager.go `EnsureImageExists` for a reference that does not parse: Event reason `InspectFailed`
 *   (events.FailedToInspectImage) `Failed to apply default image tag %q: %v`, reason `InvalidImageName`.
 * - The CRI error crosses gRPC: older kubelets keep the `rpc error: code = … desc = ` prefix in the Event.
 */

export const IMAGE = 'ghcr.io/acme/private-api:1.4.2';
export const HUB_IMAGE = 'acme/private-api:1.4.2';

/** image_manager.go EnsureImageExists: `fmt.Sprintf("Failed to pull image %q: %v", imgRef, imagePullResult.err)`. */
export function failedToPull(image: string, criError: string): string {
  return `Failed to pull image ${JSON.stringify(image)}: ${criError}`;
}

/** image_manager.go EnsureImageExists: `fmt.Sprintf("Back-off pulling image %q", imgRef)`. */
export function backOffPulling(image: string): string {
  return `Back-off pulling image ${JSON.stringify(image)}`;
}

/** kuberuntime_container.go startContainer: `recordContainerEvent(…, events.FailedToCreateContainer, "Error: %v", s.Message())`. */
export const ERROR_ERR_IMAGE_PULL = 'Error: ErrImagePull';
export const ERROR_IMAGE_PULL_BACK_OFF = 'Error: ImagePullBackOff';
export const ERROR_INVALID_IMAGE_NAME = 'Error: InvalidImageName';

/**
 * containerd internal/cri/server/images/image_pull.go PullImage: `fmt.Errorf("failed to pull and unpack image %q: %w", ref, err)`
 * around client/pull.go fetch: `fmt.Errorf("failed to resolve reference %q: %w", ref, err)`.
 */
export function containerdPull(ref: string, cause: string): string {
  return `failed to pull and unpack image ${JSON.stringify(ref)}: failed to resolve reference ${JSON.stringify(ref)}: ${cause}`;
}

/** The same, after the gRPC status of an older kubelet: `rpc error: code = Unknown desc = …`. */
export function viaGrpc(message: string, code = 'Unknown'): string {
  return `rpc error: code = ${code} desc = ${message}`;
}

/**
 * containerd's resolver causes, each from core/remotes/docker:
 * - errors/errors.go ErrUnexpectedStatus.Error: `unexpected status from %s request to %s: %s` (401, 403, 429, …);
 * - resolver.go Resolve: `pull access denied, repository does not exist or may require authorization: %w`
 *   around authorizer.go invalidAuthorization: `server message: %s: %w` and ErrInvalidAuthorization
 *   `authorization failed` (Docker Hub answers insufficient_scope for a missing and a private repository alike);
 * - resolver.go Resolve on 404: `fmt.Errorf("%s: %w", ref, errdefs.ErrNotFound)`, errdefs.ErrNotFound = `not found`;
 * - resolver.go request.do: `failed to do request: %w` around Go's net/http and crypto/x509 errors.
 */
export const CONTAINERD = {
  unauthorized: (ref: string, url: string) => containerdPull(ref, `unexpected status from HEAD request to ${url}: 401 Unauthorized`),
  forbidden: (ref: string, url: string) => containerdPull(ref, `unexpected status from HEAD request to ${url}: 403 Forbidden`),
  pullAccessDenied: (ref: string) =>
    containerdPull(ref, 'pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed'),
  notFound: (ref: string) => containerdPull(ref, `${ref}: not found`),
  tooManyRequests: (ref: string, url: string) => containerdPull(ref, `unexpected status from HEAD request to ${url}: 429 Too Many Requests`),
  x509: (ref: string, url: string) => containerdPull(ref, `failed to do request: Head "${url}": tls: failed to verify certificate: x509: certificate signed by unknown authority`),
  noSuchHost: (ref: string, url: string, host: string) =>
    containerdPull(ref, `failed to do request: Head "${url}": dial tcp: lookup ${host} on 10.96.0.10:53: no such host`),
  ioTimeout: (ref: string, url: string, address: string) => containerdPull(ref, `failed to do request: Head "${url}": dial tcp ${address}: i/o timeout`),
  connectionRefused: (ref: string, url: string, address: string) =>
    containerdPull(ref, `failed to do request: Head "${url}": dial tcp ${address}: connect: connection refused`),
  /** core/remotes/docker/auth/fetch.go FetchTokenWithOAuth: `failed to fetch oauth token: %w`, then ErrUnexpectedStatus. */
  oauthUnauthorized: (ref: string, tokenUrl: string) =>
    containerdPull(ref, `failed to authorize: failed to fetch oauth token: unexpected status from POST request to ${tokenUrl}: 401 Unauthorized`),
};

/**
 * CRI-O pulls through containers/image (docker/docker_client.go, docker/docker_image_src.go):
 * - `reading manifest %s in %s: %w` around the registry's error text (docker/errors.go
 *   registryHTTPResponseToError): `manifest unknown`, `unauthorized: authentication required`,
 *   `requested access to the resource is denied` (Docker Hub, again for a missing and a private repository),
 *   `toomanyrequests: …`;
 * - `pinging container registry %s: %w` (docker_client.go detectPropertiesHelper) around net/http errors.
 * CRI-O's PullImage error reaches the kubelet as is.
 */
export const CRIO = {
  manifestUnknown: (tag: string, name: string) => `reading manifest ${tag} in ${name}: manifest unknown`,
  unauthorized: (tag: string, name: string) => `reading manifest ${tag} in ${name}: unauthorized: authentication required`,
  denied: (tag: string, name: string) => `reading manifest ${tag} in ${name}: requested access to the resource is denied`,
  tooManyRequests: (tag: string, name: string) =>
    `reading manifest ${tag} in ${name}: toomanyrequests: You have reached your unauthenticated pull rate limit. https://www.docker.com/increase-rate-limit`,
  x509: (registry: string) =>
    `pinging container registry ${registry}: Get "https://${registry}/v2/": tls: failed to verify certificate: x509: certificate signed by unknown authority`,
  noSuchHost: (registry: string) => `pinging container registry ${registry}: Get "https://${registry}/v2/": dial tcp: lookup ${registry}: no such host`,
};

/**
 * The Docker daemon through cri-dockerd (moby daemon/images, distribution/errors.go): the message the
 * `docker pull` CLI shows, `no basic auth credentials` for a registry that wants a login none was given for.
 */
export const DOCKERD = {
  noBasicAuth: (ref: string) => `Error response from daemon: Get "https://${ref.split('/')[0]}/v2/": no basic auth credentials`,
};

/**
 * image_manager.go EnsureImageExists for a reference that does not parse: `Failed to apply default image tag %q: %v`,
 * the error of pkg/util/parsers ParseImageName: `couldn't parse image reference %q: %v` around
 * distribution/reference's ErrReferenceInvalidFormat `invalid reference format`.
 */
export function invalidImageName(image: string, detail = 'invalid reference format'): string {
  return `Failed to apply default image tag ${JSON.stringify(image)}: couldn't parse image reference ${JSON.stringify(image)}: ${detail}`;
}
