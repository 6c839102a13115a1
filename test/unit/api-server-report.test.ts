import { describe, expect, it } from '@jest/globals';
import { ApiServerReport, REMIND_EVERY_MS } from '../../src/controller/api-server-report.js';
import { captureLog } from '../support/log-capture.js';
import { FakeClock } from '../support/fake-clock.js';

const SERVER = 'https://127.0.0.1:40123 (context regcred-operator)';
const INFORMERS = ['registrycredentials', 'namespaces', 'managed-secrets', 'serviceaccounts', 'source-secrets'];

function refused(): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:40123'), { code: 'ECONNREFUSED' }) });
}
function goaway(): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('HTTP/2: "GOAWAY" frame received with code 0'), { code: 'UND_ERR_INFO' }) });
}
function untrusted(): Error {
  return new TypeError('fetch failed', { cause: Object.assign(new Error('self-signed certificate in certificate chain'), { code: 'SELF_SIGNED_CERT_IN_CHAIN' }) });
}
function status(code: number, message: string): Error {
  return Object.assign(new Error(`HTTP-Code: ${code}`), { code, body: JSON.stringify({ message }) });
}

function setup() {
  const clock = new FakeClock(1_000_000);
  const capture = captureLog();
  const report = new ApiServerReport(SERVER, capture.log, () => clock.now());
  return { clock, report, ...capture };
}

describe('ApiServerReport', () => {
  it('says once, for all five informers, that the server cannot be reached, naming it and what to check', () => {
    const { report, at } = setup();
    for (const informer of INFORMERS) expect(report.failed(informer, refused(), 1000, 1)).toBe(true);
    for (const informer of INFORMERS) expect(report.failed(informer, refused(), 2000, 2)).toBe(true);
    const errors = at('error');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatchObject({ server: SERVER, problem: 'unreachable', err: 'connect ECONNREFUSED 127.0.0.1:40123', informer: 'registrycredentials' });
    expect(errors[0]?.msg).toContain(`cannot reach the API server ${SERVER}`);
    expect(errors[0]?.msg).toContain('is the cluster up');
    expect(errors[0]?.msg).toMatch(/retrying$/);
  });

  it('says when it answers again, and says the next outage again', () => {
    const { clock, report, at } = setup();
    report.failed('namespaces', refused(), 1000, 1);
    clock.advance(30_000);
    report.answered('namespaces');
    report.answered('serviceaccounts');
    expect(at('info')).toEqual([expect.objectContaining({ msg: 'the API server answers again', problem: 'unreachable', forMs: 30_000 })]);
    report.failed('namespaces', refused(), 1000, 1);
    expect(at('error')).toHaveLength(2);
  });

  it('says it again when the problem changes, and not for a routine dropped connection', () => {
    const { report, at } = setup();
    report.failed('namespaces', refused(), 1000, 1);
    report.failed('namespaces', goaway(), 2000, 2);
    report.failed('namespaces', untrusted(), 4000, 3);
    expect(at('error').map((l) => l.problem)).toEqual(['unreachable', 'tls']);
  });

  it('leaves a single dropped connection to the informer, and speaks when it keeps happening', () => {
    const { report, at } = setup();
    expect(report.failed('namespaces', goaway(), 1000, 1)).toBe(false);
    expect(at('error')).toEqual([]);
    expect(report.failed('namespaces', goaway(), 2000, 2)).toBe(true);
    expect(at('error')).toEqual([expect.objectContaining({ problem: 'dropped' })]);
  });

  it('does not let a GOAWAY beside a 401 hide or repeat the 401', () => {
    const { report, at } = setup();
    report.failed('registrycredentials', status(401, 'Unauthorized'), 1000, 1);
    report.failed('managed-secrets', goaway(), 1000, 1);
    report.failed('namespaces', status(401, 'Unauthorized'), 1000, 1);
    expect(at('error')).toEqual([expect.objectContaining({ problem: 'unauthorized', err: 'HTTP 401: Unauthorized' })]);
    expect(at('error')[0]?.msg).toContain('expired');
  });

  it('says a 403 once per informer, with the server\'s words, and when it is lifted', () => {
    const { report, at } = setup();
    const forbidden = status(403, 'secrets is forbidden: User "system:serviceaccount:regcred-system:regcred-operator" cannot list resource "secrets"');
    report.failed('managed-secrets', forbidden, 1000, 1);
    report.failed('managed-secrets', forbidden, 2000, 2);
    report.failed('source-secrets', forbidden, 1000, 1);
    expect(at('error').map((l) => l.informer)).toEqual(['managed-secrets', 'source-secrets']);
    expect(at('error')[0]?.msg).toContain('config/rbac');
    report.answered('managed-secrets');
    expect(at('info')).toEqual([expect.objectContaining({ informer: 'managed-secrets', msg: 'the API server lets this informer list and watch again' })]);
  });

  it('reminds every few minutes while it lasts, with how long', () => {
    const { clock, report, at } = setup();
    report.failed('namespaces', refused(), 1000, 1);
    clock.advance(REMIND_EVERY_MS - 1);
    report.failed('namespaces', refused(), 60_000, 9);
    expect(at('error')).toHaveLength(1);
    clock.advance(1);
    report.failed('namespaces', refused(), 60_000, 10);
    expect(at('error')).toHaveLength(2);
    expect(at('error')[1]).toMatchObject({ problem: 'unreachable', forMs: REMIND_EVERY_MS });
  });

  it('is not concerned with other failures', () => {
    const { report, lines } = setup();
    expect(report.failed('namespaces', status(500, 'etcdserver: request timed out'), 1000, 1)).toBe(false);
    expect(report.failed('namespaces', new Error('bug'), 1000, 1)).toBe(false);
    report.answered('namespaces');
    expect(lines()).toEqual([]);
  });
});
