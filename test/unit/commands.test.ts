import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Help, type Command } from 'commander';
import { DEFAULT_LOCAL_DIR, buildProgram, packageVersion, programName } from '../../src/commands.js';
import { buildConfig, RUN_DEFAULTS } from '../../src/config.js';

const PACKAGE = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as { version: string };

function command(name: string): Command {
  const found = buildProgram().commands.find((c) => c.name() === name);
  if (!found) throw new Error(`no command ${name}`);
  return found;
}

/** Each flag's description as `--help` prints it, including commander's own "(default: …)". */
function helpByFlag(name: string): Map<string, string> {
  const help = new Help();
  return new Map(command(name).options.map((o) => [o.long ?? o.flags, help.optionDescription(o)]));
}

function defaultOf(description: string | undefined): string | undefined {
  return /\(default: ([^)]*)\)/.exec(description ?? '')?.[1];
}

describe('regcred --version', () => {
  it("is package.json's version", () => {
    expect(packageVersion()).toBe(PACKAGE.version);
    expect(buildProgram().version()).toBe(PACKAGE.version);
  });
});

describe("the help's defaults", () => {
  it.each(['run', 'local', 'start', 'doctor', 'uninstall'])('every flag of %s says its default', (name) => {
    for (const [flag, description] of helpByFlag(name)) {
      expect([flag, defaultOf(description)]).toEqual([flag, expect.any(String)]);
      expect([flag, description.split('(default:').length - 1]).toEqual([flag, 1]);
    }
  });

  it("run: are buildConfig's defaults", () => {
    const config = buildConfig({}, {}, false);
    const help = helpByFlag('run');
    const expected: Record<string, string> = {
      '--concurrency': String(config.concurrency),
      '--write-concurrency': String(config.writeConcurrency),
      '--health-port': String(config.healthPort),
      '--metrics-port': String(config.metricsPort),
      '--resync-seconds': String(config.resyncIntervalMs / 1000),
      '--provider-timeout-seconds': String(config.providerTimeoutMs / 1000),
      '--provider-concurrency': String(config.providerConcurrency),
      '--verify-timeout-seconds': String(config.verifyTimeoutMs / 1000),
      '--verify-concurrency': String(config.verifyConcurrency),
      '--dockerhub-headroom-percent': String(config.headroomPercent),
      '--heap-growing-percent': String(config.heapGrowingPercent),
      '--registry-ca-file': '$REGCRED_REGISTRY_CA_FILE, else none',
      '--namespace': `$POD_NAMESPACE, else ${config.namespace}`,
      '--log-level': `$LOG_LEVEL, else ${config.logLevel}`,
      '--kubeconfig': '$KUBECONFIG, else ~/.kube/config, else the in-cluster account',
      '--context': "the kubeconfig's current-context",
      '--leader-elect': 'off',
      '--leader-elect-lease-duration-seconds': String(RUN_DEFAULTS.leaderElectLeaseDurationSeconds),
      '--leader-elect-renew-deadline-seconds': String(RUN_DEFAULTS.leaderElectRenewDeadlineSeconds),
      '--leader-elect-retry-period-seconds': String(RUN_DEFAULTS.leaderElectRetryPeriodSeconds),
    };
    // Off by default (`regcred run`, `npm start`); on, client-go's durations.
    expect(config.leaderElection).toBeUndefined();
    expect(buildConfig({ leaderElect: true }, {}, false).leaderElection).toEqual({ leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 });
    for (const [flag, want] of Object.entries(expected)) expect([flag, defaultOf(help.get(flag))]).toEqual([flag, want]);
    // Every flag of `run` is in the table above.
    expect([...help.keys()].sort()).toEqual(Object.keys(expected).sort());
  });

  it('run: the environment variables the help names are the ones buildConfig reads', () => {
    const config = buildConfig({}, { POD_NAMESPACE: 'from-env', LOG_LEVEL: 'debug' }, false);
    expect(config.namespace).toBe('from-env');
    expect(config.logLevel).toBe('debug');
  });

  it('local and start: the state directory', () => {
    expect(DEFAULT_LOCAL_DIR).toBe('.regcred/local');
    for (const name of ['local', 'start']) {
      expect(defaultOf(helpByFlag(name).get('--dir'))).toBe(DEFAULT_LOCAL_DIR);
      expect(command(name).opts()).toEqual({ dir: DEFAULT_LOCAL_DIR });
    }
  });

  it('--api-port takes a port number', async () => {
    const program = buildProgram().exitOverride();
    let errors = '';
    program.commands.forEach((c) => c.exitOverride().configureOutput({ writeErr: (s) => (errors += s) }));
    const local = program.commands.find((c) => c.name() === 'local')!;
    local.action(() => undefined);
    await program.parseAsync(['node', 'regcred', 'local', '--api-port', '6443']);
    expect(local.opts()).toEqual({ dir: DEFAULT_LOCAL_DIR, apiPort: 6443 });
    for (const bad of ['0', '65536', 'x', '80.5']) {
      await expect(buildProgramFor(bad)).rejects.toThrow(/must be a whole number from 1 to 65535/);
    }
    expect(errors).toBe('');
  });
});

async function buildProgramFor(apiPort: string): Promise<void> {
  const program = buildProgram().exitOverride();
  for (const c of program.commands) c.exitOverride().configureOutput({ writeErr: () => undefined });
  program.commands.find((c) => c.name() === 'local')!.action(() => undefined);
  await program.parseAsync(['node', 'regcred', 'local', '--api-port', apiPort]);
}

describe('the program name', () => {
  it('is "kubectl regcred" when kubectl runs it as the plugin kubectl-regcred', () => {
    expect(programName(['/usr/bin/node', '/usr/local/bin/kubectl-regcred', 'doctor'])).toBe('kubectl regcred');
    expect(programName(['/usr/bin/node', '/app/dist/cli.js', 'doctor'])).toBe('regcred');
    expect(programName(['/usr/bin/node', '/usr/local/bin/regcred'])).toBe('regcred');
    expect(buildProgram('kubectl regcred').commands.find((c) => c.name() === 'doctor')!.helpInformation()).toContain('Usage: kubectl regcred doctor [options] [pod]');
  });
});
