import { describe, expect, it } from '@jest/globals';
import { classifyMessage, classifyPullFailure, isInformative, trimMessage, type Cause } from '../../src/doctor/classify.js';
import {
  backOffPulling,
  CONTAINERD,
  CRIO,
  DOCKERD,
  ERROR_ERR_IMAGE_PULL,
  ERROR_IMAGE_PULL_BACK_OFF,
  ERROR_INVALID_IMAGE_NAME,
  failedToPull,
  invalidImageName,
  viaGrpc,
} from '../support/kubelet-messages.js';

const GHCR = 'ghcr.io/acme/api:1.4.2';
const GHCR_URL = 'https://ghcr.io/v2/acme/api/manifests/1.4.2';
const HUB = 'docker.io/library/nginz:latest';
const HUB_URL = 'https://registry-1.docker.io/v2/library/nginz/manifests/latest';

describe('classifyMessage: the runtime errors, as the kubelet words them', () => {
  const table: [string, string, Cause][] = [
    ['containerd 401', failedToPull(GHCR, CONTAINERD.unauthorized(GHCR, GHCR_URL)), 'unauthorized'],
    ['containerd 401 through gRPC', failedToPull(GHCR, viaGrpc(CONTAINERD.unauthorized(GHCR, GHCR_URL))), 'unauthorized'],
    ['containerd oauth token 401', failedToPull(GHCR, CONTAINERD.oauthUnauthorized(GHCR, 'https://ghcr.io/token')), 'unauthorized'],
    ['dockerd no basic auth credentials', failedToPull(GHCR, DOCKERD.noBasicAuth(GHCR)), 'unauthorized'],
    ['CRI-O unauthorized', failedToPull(GHCR, CRIO.unauthorized('1.4.2', 'ghcr.io/acme/api')), 'unauthorized'],
    ['containerd 403', failedToPull(GHCR, CONTAINERD.forbidden(GHCR, GHCR_URL)), 'denied'],
    ['containerd pull access denied (Docker Hub: missing or private)', failedToPull('nginz', CONTAINERD.pullAccessDenied(HUB)), 'not-found-or-unauthorized'],
    ['containerd pull access denied through gRPC', failedToPull('nginz', viaGrpc(CONTAINERD.pullAccessDenied(HUB))), 'not-found-or-unauthorized'],
    ['CRI-O requested access denied (Docker Hub: missing or private)', failedToPull('nginz', CRIO.denied('latest', 'docker.io/library/nginz')), 'not-found-or-unauthorized'],
    ['containerd not found', failedToPull(GHCR, viaGrpc(CONTAINERD.notFound(GHCR), 'NotFound')), 'not-found'],
    ['CRI-O manifest unknown', failedToPull(GHCR, CRIO.manifestUnknown('1.4.2', 'ghcr.io/acme/api')), 'not-found'],
    ['registry name unknown', failedToPull(GHCR, 'reading manifest 1.4.2 in ghcr.io/acme/api: name unknown: repository name not known to registry'), 'not-found'],
    ['containerd 429', failedToPull('nginx', CONTAINERD.tooManyRequests('docker.io/library/nginx:latest', HUB_URL)), 'rate-limited'],
    ['CRI-O toomanyrequests', failedToPull('nginx', CRIO.tooManyRequests('latest', 'docker.io/library/nginx')), 'rate-limited'],
    ['containerd x509', failedToPull(GHCR, CONTAINERD.x509(GHCR, GHCR_URL)), 'tls'],
    ['CRI-O x509', failedToPull(GHCR, CRIO.x509('ghcr.io')), 'tls'],
    ['containerd no such host', failedToPull(GHCR, CONTAINERD.noSuchHost(GHCR, GHCR_URL, 'ghcr.io')), 'unreachable'],
    ['CRI-O no such host', failedToPull(GHCR, CRIO.noSuchHost('ghcr.io')), 'unreachable'],
    ['containerd i/o timeout', failedToPull(GHCR, CONTAINERD.ioTimeout(GHCR, GHCR_URL, '140.82.113.33:443')), 'unreachable'],
    ['containerd connection refused', failedToPull(GHCR, CONTAINERD.connectionRefused(GHCR, GHCR_URL, '10.0.0.5:443')), 'unreachable'],
    ['kubelet registry unavailable', 'image pull failed for ghcr.io/acme/api:1.4.2 because the registry is unavailable: no route', 'unreachable'],
    ['kubelet invalid reference', invalidImageName('ghcr.io/Acme/api'), 'invalid-reference'],
    ['something else', failedToPull(GHCR, 'rpc error: code = Unknown desc = failed to extract layer: no space left on device'), 'unknown'],
  ];
  it.each(table)('%s', (_name, message, cause) => {
    expect(classifyMessage(message)).toBe(cause);
  });
});

describe('classifyPullFailure', () => {
  it('reads the newest informative Event, not "Error: ErrImagePull"', () => {
    const failed = failedToPull(GHCR, CONTAINERD.unauthorized(GHCR, GHCR_URL));
    expect(
      classifyPullFailure({ waitingReason: 'ImagePullBackOff', waitingMessage: backOffPulling(GHCR), eventMessages: [ERROR_IMAGE_PULL_BACK_OFF, ERROR_ERR_IMAGE_PULL, failed] }),
    ).toEqual({ cause: 'unauthorized', message: failed });
  });

  it('falls back to the waiting message (ErrImagePull carries the runtime error)', () => {
    const message = CONTAINERD.pullAccessDenied(HUB);
    expect(classifyPullFailure({ waitingReason: 'ErrImagePull', waitingMessage: message, eventMessages: [] })).toEqual({ cause: 'not-found-or-unauthorized', message });
  });

  it('is unknown, with no message, when only the back-off is known', () => {
    expect(classifyPullFailure({ waitingReason: 'ImagePullBackOff', waitingMessage: backOffPulling(GHCR), eventMessages: [ERROR_IMAGE_PULL_BACK_OFF] })).toEqual({ cause: 'unknown' });
  });

  it('keeps an unclassified message to show it', () => {
    const odd = failedToPull(GHCR, 'rpc error: code = Unknown desc = something new');
    expect(classifyPullFailure({ waitingReason: 'ErrImagePull', eventMessages: [odd] })).toEqual({ cause: 'unknown', message: odd });
  });

  it('InvalidImageName is an invalid reference whatever the messages say', () => {
    const message = invalidImageName('ghcr.io/Acme/api');
    expect(classifyPullFailure({ waitingReason: 'InvalidImageName', waitingMessage: message, eventMessages: [ERROR_INVALID_IMAGE_NAME] })).toEqual({ cause: 'invalid-reference', message });
  });

  it('tells the kubelet\'s own words from the runtime\'s', () => {
    expect([ERROR_ERR_IMAGE_PULL, ERROR_IMAGE_PULL_BACK_OFF, ERROR_INVALID_IMAGE_NAME, backOffPulling(GHCR)].map(isInformative)).toEqual([false, false, false, false]);
    expect(isInformative(`${backOffPulling(GHCR)}: ErrImagePull: ${CONTAINERD.notFound(GHCR)}`)).toBe(true);
  });
});

describe('trimMessage', () => {
  it('keeps a short message as it is, on one line', () => {
    expect(trimMessage('a\n  b')).toBe('a b');
  });
  it('elides the middle of a long one, keeping both ends', () => {
    const long = `start ${'x'.repeat(1000)} end`;
    const trimmed = trimMessage(long, 100);
    expect(trimmed.length).toBeLessThanOrEqual(100);
    expect(trimmed.startsWith('start ')).toBe(true);
    expect(trimmed.endsWith(' end')).toBe(true);
    expect(trimmed).toContain('...');
  });
});
