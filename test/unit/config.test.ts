import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { ConfigError, LOG_LEVELS, buildConfig, type RunFlags } from '../../src/config.js';

function configError(flags: RunFlags, env: NodeJS.ProcessEnv = {}): ConfigError {
  try {
    buildConfig(flags, env, false);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('buildConfig did not throw');
}

describe('buildConfig: defaults', () => {
  it('with no flags and no environment', () => {
    expect(buildConfig({}, {}, false)).toEqual({
      kubeconfig: undefined,
      context: undefined,
      namespace: 'regcred-system',
      logLevel: 'info',
      concurrency: 4,
      writeConcurrency: 16,
      healthPort: 8081,
      metricsPort: 8080,
      resyncIntervalMs: 600_000,
      providerTimeoutMs: 30_000,
      providerConcurrency: 4,
      verifyTimeoutMs: 10_000,
      verifyConcurrency: 4,
      registryCaFile: undefined,
      headroomPercent: 10,
      heapGrowingPercent: 10,
      prettyLogs: false,
    });
  });

  it.each([
    { flags: { verifyTimeoutSeconds: '3' }, field: 'verifyTimeoutMs', want: 3_000 },
    { flags: { verifyConcurrency: '2' }, field: 'verifyConcurrency', want: 2 },
    { flags: { dockerhubHeadroomPercent: '25' }, field: 'headroomPercent', want: 25 },
    { flags: { heapGrowingPercent: '0' }, field: 'heapGrowingPercent', want: 0 },
    { flags: { heapGrowingPercent: '50' }, field: 'heapGrowingPercent', want: 50 },
  ] as const)('verification flags: $field', ({ flags, field, want }) => {
    expect(buildConfig(flags, {}, false)[field]).toBe(want);
  });

  it('--registry-ca-file (or $REGCRED_REGISTRY_CA_FILE) must name a readable file', () => {
    const file = fileURLToPath(import.meta.url);
    expect(buildConfig({ registryCaFile: file }, {}, false).registryCaFile).toBe(file);
    expect(buildConfig({}, { REGCRED_REGISTRY_CA_FILE: file }, false).registryCaFile).toBe(file);
    expect(() => buildConfig({ registryCaFile: '/nonexistent/ca.pem' }, {}, false)).toThrow(
      '--registry-ca-file "/nonexistent/ca.pem" cannot be read (ENOENT): mount the CA bundle there or remove the flag',
    );
  });

  it.each([
    { flags: { providerTimeoutSeconds: '5' }, field: 'providerTimeoutMs', want: 5_000 },
    { flags: { providerConcurrency: '1' }, field: 'providerConcurrency', want: 1 },
  ] as const)('provider flags: $field', ({ flags, field, want }) => {
    expect(buildConfig(flags, {}, false)[field]).toBe(want);
  });

  it.each([
    { flags: { providerTimeoutSeconds: '0' }, want: '--provider-timeout-seconds "0" must be a whole number from 1 to 600' },
    { flags: { providerConcurrency: '65' }, want: '--provider-concurrency "65" must be a whole number from 1 to 64' },
    { flags: { verifyTimeoutSeconds: '0' }, want: '--verify-timeout-seconds "0" must be a whole number from 1 to 120' },
    { flags: { dockerhubHeadroomPercent: '101' }, want: '--dockerhub-headroom-percent "101" must be a whole number from 0 to 100' },
    { flags: { heapGrowingPercent: '401' }, want: '--heap-growing-percent "401" must be a whole number from 0 to 400' },
  ])('provider flags out of range: $want', ({ flags, want }) => {
    expect(() => buildConfig(flags, {}, false)).toThrow(want);
  });

  it('passes kubeconfig and context through', () => {
    const config = buildConfig({ kubeconfig: '/tmp/kc', context: 'kind-dev' }, {}, false);
    expect(config.kubeconfig).toBe('/tmp/kc');
    expect(config.context).toBe('kind-dev');
  });

  it('does not read unrelated environment', () => {
    expect(buildConfig({}, { KUBECONFIG: '/x', NAMESPACE: 'other' }, false).namespace).toBe('regcred-system');
  });
});

describe('buildConfig: namespace', () => {
  it.each([
    { name: 'default', flags: {}, env: {}, want: 'regcred-system' },
    { name: 'from POD_NAMESPACE', flags: {}, env: { POD_NAMESPACE: 'ops' }, want: 'ops' },
    { name: '--namespace wins over POD_NAMESPACE', flags: { namespace: 'from-flag' }, env: { POD_NAMESPACE: 'ops' }, want: 'from-flag' },
    { name: '--namespace without POD_NAMESPACE', flags: { namespace: 'a1' }, env: {}, want: 'a1' },
    { name: 'one character', flags: { namespace: 'a' }, env: {}, want: 'a' },
    { name: '63 characters', flags: { namespace: 'a'.repeat(63) }, env: {}, want: 'a'.repeat(63) },
  ])('$name', ({ flags, env, want }) => {
    expect(buildConfig(flags, env, false).namespace).toBe(want);
  });

  it.each([
    { name: 'uppercase', flags: { namespace: 'Regcred' }, env: {}, value: 'Regcred' },
    { name: 'a dot', flags: { namespace: 'regcred.system' }, env: {}, value: 'regcred.system' },
    { name: 'leading dash', flags: { namespace: '-ops' }, env: {}, value: '-ops' },
    { name: 'trailing dash', flags: { namespace: 'ops-' }, env: {}, value: 'ops-' },
    { name: 'an underscore', flags: { namespace: 'reg_cred' }, env: {}, value: 'reg_cred' },
    { name: '64 characters', flags: { namespace: 'a'.repeat(64) }, env: {}, value: 'a'.repeat(64) },
    { name: 'empty flag', flags: { namespace: '' }, env: {}, value: '' },
    { name: 'invalid POD_NAMESPACE', flags: {}, env: { POD_NAMESPACE: 'Bad_NS' }, value: 'Bad_NS' },
  ])('refuses $name', ({ flags, env, value }) => {
    const err = configError(flags, env);
    expect(err.message).toBe(`--namespace "${value}" is not a valid namespace name (lowercase letters, digits and "-", at most 63)`);
  });
});

describe('buildConfig: log level', () => {
  it.each([
    { name: 'default', flags: {}, env: {}, want: 'info' },
    { name: 'from LOG_LEVEL', flags: {}, env: { LOG_LEVEL: 'debug' }, want: 'debug' },
    { name: '--log-level wins over LOG_LEVEL', flags: { logLevel: 'warn' }, env: { LOG_LEVEL: 'debug' }, want: 'warn' },
    { name: 'case-insensitive', flags: { logLevel: 'ERROR' }, env: {}, want: 'error' },
    ...LOG_LEVELS.map((level) => ({ name: `accepts ${level}`, flags: { logLevel: level }, env: {}, want: level })),
  ])('$name', ({ flags, env, want }) => {
    expect(buildConfig(flags, env, false).logLevel).toBe(want);
  });

  it.each([
    { name: 'unknown level', flags: { logLevel: 'verbose' }, env: {}, value: 'verbose' },
    { name: 'unknown level from LOG_LEVEL', flags: {}, env: { LOG_LEVEL: 'loud' }, value: 'loud' },
    { name: 'a number', flags: { logLevel: '30' }, env: {}, value: '30' },
    { name: 'empty', flags: { logLevel: '' }, env: {}, value: '' },
  ])('refuses $name', ({ flags, env, value }) => {
    expect(configError(flags, env).message).toBe(`--log-level "${value}" is not one of trace, debug, info, warn, error, fatal, silent`);
  });
});

describe('buildConfig: numeric flags', () => {
  it.each([
    { name: '--concurrency', flags: { concurrency: '8' }, key: 'concurrency', want: 8 },
    { name: '--concurrency minimum', flags: { concurrency: '1' }, key: 'concurrency', want: 1 },
    { name: '--concurrency maximum', flags: { concurrency: '64' }, key: 'concurrency', want: 64 },
    { name: '--write-concurrency', flags: { writeConcurrency: '256' }, key: 'writeConcurrency', want: 256 },
    { name: '--health-port 0 (disabled/ephemeral)', flags: { healthPort: '0' }, key: 'healthPort', want: 0 },
    { name: '--health-port', flags: { healthPort: '9090' }, key: 'healthPort', want: 9090 },
    { name: '--metrics-port', flags: { metricsPort: '9100' }, key: 'metricsPort', want: 9100 },
    { name: '--metrics-port 0 (any free port)', flags: { metricsPort: '0' }, key: 'metricsPort', want: 0 },
    { name: '--metrics-port maximum', flags: { metricsPort: '65535' }, key: 'metricsPort', want: 65535 },
    { name: 'both ports 0: each gets its own free port', flags: { metricsPort: '0', healthPort: '0' }, key: 'metricsPort', want: 0 },
    { name: '--metrics-port takes the health default when --health-port moves', flags: { metricsPort: '8081', healthPort: '9091' }, key: 'metricsPort', want: 8081 },
    { name: '--resync-seconds in milliseconds', flags: { resyncSeconds: '5' }, key: 'resyncIntervalMs', want: 5000 },
    { name: '--resync-seconds minimum', flags: { resyncSeconds: '1' }, key: 'resyncIntervalMs', want: 1000 },
    { name: '--resync-seconds maximum', flags: { resyncSeconds: '86400' }, key: 'resyncIntervalMs', want: 86_400_000 },
  ])('$name', ({ flags, key, want }) => {
    expect(buildConfig(flags, {}, false)[key as 'concurrency']).toBe(want);
  });

  it.each([
    { name: 'concurrency 0', flags: { concurrency: '0' }, message: '--concurrency "0" must be a whole number from 1 to 64' },
    { name: 'concurrency 65', flags: { concurrency: '65' }, message: '--concurrency "65" must be a whole number from 1 to 64' },
    { name: 'concurrency negative', flags: { concurrency: '-2' }, message: '--concurrency "-2" must be a whole number from 1 to 64' },
    { name: 'concurrency fractional', flags: { concurrency: '2.5' }, message: '--concurrency "2.5" must be a whole number from 1 to 64' },
    { name: 'concurrency not a number', flags: { concurrency: 'four' }, message: '--concurrency "four" must be a whole number from 1 to 64' },
    { name: 'concurrency empty', flags: { concurrency: '' }, message: '--concurrency "" must be a whole number from 1 to 64' },
    { name: 'write concurrency 0', flags: { writeConcurrency: '0' }, message: '--write-concurrency "0" must be a whole number from 1 to 256' },
    { name: 'health port too large', flags: { healthPort: '65536' }, message: '--health-port "65536" must be a whole number from 0 to 65535' },
    { name: 'metrics port too large', flags: { metricsPort: '65536' }, message: '--metrics-port "65536" must be a whole number from 0 to 65535' },
    { name: 'metrics port negative', flags: { metricsPort: '-1' }, message: '--metrics-port "-1" must be a whole number from 0 to 65535' },
    { name: 'metrics port not a number', flags: { metricsPort: 'http' }, message: '--metrics-port "http" must be a whole number from 0 to 65535' },
    { name: 'metrics port fractional', flags: { metricsPort: '80.5' }, message: '--metrics-port "80.5" must be a whole number from 0 to 65535' },
    { name: 'metrics port empty', flags: { metricsPort: '' }, message: '--metrics-port "" must be a whole number from 0 to 65535' },
    { name: 'health port empty (was read as 0)', flags: { healthPort: '' }, message: '--health-port "" must be a whole number from 0 to 65535' },
    { name: 'metrics port blank', flags: { metricsPort: ' ' }, message: '--metrics-port " " must be a whole number from 0 to 65535' },
    { name: 'metrics port in hex', flags: { metricsPort: '0x1F90' }, message: '--metrics-port "0x1F90" must be a whole number from 0 to 65535' },
    { name: 'concurrency in exponent notation', flags: { concurrency: '1e1' }, message: '--concurrency "1e1" must be a whole number from 1 to 64' },
    { name: 'metrics port on the default health port', flags: { metricsPort: '8081' }, message: '--metrics-port and --health-port are both 8081; they need a port each' },
    { name: 'health port on the default metrics port', flags: { healthPort: '8080' }, message: '--metrics-port and --health-port are both 8080; they need a port each' },
    { name: 'both ports the same', flags: { healthPort: '9000', metricsPort: '9000' }, message: '--metrics-port and --health-port are both 9000; they need a port each' },
    { name: 'resync zero', flags: { resyncSeconds: '0' }, message: '--resync-seconds "0" must be a whole number from 1 to 86400' },
    { name: 'resync too long', flags: { resyncSeconds: '86401' }, message: '--resync-seconds "86401" must be a whole number from 1 to 86400' },
  ])('refuses $name', ({ flags, message }) => {
    expect(configError(flags).message).toBe(message);
  });
});

describe('buildConfig: pretty logs', () => {
  it.each([
    { name: 'on a terminal', isTty: true, env: {}, want: true },
    { name: 'not a terminal', isTty: false, env: {}, want: false },
    { name: 'on a terminal with LOG_FORMAT=json', isTty: true, env: { LOG_FORMAT: 'json' }, want: false },
    { name: 'on a terminal with another LOG_FORMAT', isTty: true, env: { LOG_FORMAT: 'text' }, want: true },
  ])('$name', ({ isTty, env, want }) => {
    expect(buildConfig({}, env, isTty).prettyLogs).toBe(want);
  });
});

describe('buildConfig: leader election', () => {
  it('is off unless --leader-elect is given, with client-go\'s durations when on', () => {
    expect(buildConfig({}, {}, false).leaderElection).toBeUndefined();
    expect(buildConfig({ leaderElect: true }, {}, false).leaderElection).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
  });

  it('takes the three durations in seconds', () => {
    const config = buildConfig(
      { leaderElect: true, leaderElectLeaseDurationSeconds: '60', leaderElectRenewDeadlineSeconds: '40', leaderElectRetryPeriodSeconds: '5' },
      {},
      false,
    );
    expect(config.leaderElection).toEqual({ leaseDurationMs: 60_000, renewDeadlineMs: 40_000, retryPeriodMs: 5_000 });
  });

  it.each([
    [{ leaderElectLeaseDurationSeconds: '10' }, 'the lease duration must be greater than the renew deadline'],
    [{ leaderElectLeaseDurationSeconds: '8' }, 'the lease duration must be greater than the renew deadline'],
    [{ leaderElectRetryPeriodSeconds: '9' }, 'the renew deadline must be greater than the retry period × 1.2'],
    // 10 > 8 × 1.2 = 9.6 holds; 10 > 9 × 1.2 = 10.8 does not: client-go's JitterFactor, not the plain period.
    [{ leaderElectRenewDeadlineSeconds: '6', leaderElectRetryPeriodSeconds: '5' }, 'the renew deadline must be greater than the retry period × 1.2'],
  ] as [RunFlags, string][])('refuses %j, naming the flags (checked even without --leader-elect)', (flags, message) => {
    for (const leaderElect of [true, undefined]) {
      const err = configError({ ...flags, leaderElect });
      expect(err.message).toContain(message);
      expect(err.message).toContain('--leader-elect-lease-duration-seconds');
      expect(err.message).toContain('--leader-elect-renew-deadline-seconds');
      expect(err.message).toContain('--leader-elect-retry-period-seconds');
    }
  });

  it('accepts a retry period just under the bound', () => {
    expect(buildConfig({ leaderElect: true, leaderElectRetryPeriodSeconds: '8' }, {}, false).leaderElection?.retryPeriodMs).toBe(8_000);
  });

  it.each([
    ['leaderElectLeaseDurationSeconds', '--leader-elect-lease-duration-seconds'],
    ['leaderElectRenewDeadlineSeconds', '--leader-elect-renew-deadline-seconds'],
    ['leaderElectRetryPeriodSeconds', '--leader-elect-retry-period-seconds'],
  ] as const)('%s must be a whole number from 1 to 3600', (field, flag) => {
    for (const raw of ['0', '-1', '1.5', 'abc', '', '3601']) {
      expect(configError({ [field]: raw }).message).toBe(`${flag} "${raw}" must be a whole number from 1 to 3600`);
    }
  });
});
