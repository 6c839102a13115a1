/**
 * The `regcred` commands. src/cli.ts loads this module once it has checked the Node.js version; this
 * module loads the operator itself (src/main.ts) only when a command runs, so `--help` and `--version`
 * stay quick.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { LOG_LEVELS, RUN_DEFAULTS, type RunFlags } from './config.js';
import type { DoctorFlags } from './doctor/command.js';
import { DEFAULT_OPERATOR_NAMESPACE } from './api/constants.js';
import { DEFAULT_OPERATOR_NAME, DEFAULT_TIMEOUT_SECONDS, type UninstallFlags } from './uninstall/plan.js';

/** The directory `regcred local` and `regcred start` keep the local control plane's state in. */
export const DEFAULT_LOCAL_DIR = '.regcred/local';

/** package.json's version: dist/ and src/ are both one level below it. */
export function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

export interface LocalFlags {
  dir: string;
  apiPort?: number;
  auditLog?: boolean;
  buildOnly?: boolean;
}

export interface StartFlags {
  dir: string;
  apiPort?: number;
}

/** An option whose help ends with "(default: …)", for defaults that are not a plain value commander can hold. */
function option(flags: string, description: string, defaultText: string | number): Option {
  return new Option(flags, `${description} (default: ${defaultText})`);
}

function parsePort(raw: string): number {
  const port = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new InvalidArgumentError('must be a whole number from 1 to 65535');
  }
  return port;
}

function dirOption(description: string): Option {
  // A real default: commander prints it as "(default: .regcred/local)", like the ones above.
  return new Option('--dir <dir>', description).default(DEFAULT_LOCAL_DIR, DEFAULT_LOCAL_DIR);
}

function apiPortOption(): Option {
  return option(
    '--api-port <port>',
    'port of the local API server on 127.0.0.1',
    'the port in DIR/kubeconfig if it is free (a kubeconfig loaded earlier keeps working), else any free port',
  ).argParser(parsePort);
}

/** The name the program runs under: `kubectl regcred` when kubectl runs it as the plugin `kubectl-regcred`. */
export function programName(argv: readonly string[]): string {
  return /^kubectl-regcred(?:\.[cm]?js)?$/.test(basename(argv[1] ?? '')) ? 'kubectl regcred' : 'regcred';
}

/** Thrown by commander for the doctor and uninstall commands' usage errors, so that they exit 2 (not commander's 1). */
class UsageExit extends Error {
  constructor(readonly exitCode: number) {
    super('usage');
  }
}

export function buildProgram(name = 'regcred'): Command {
  const program = new Command()
    .name(name)
    .description('regcred-operator: image pull secrets for every namespace, minted, fanned out and rotated')
    .version(packageVersion(), '-V, --version', 'print the version of regcred and exit')
    .helpOption('-h, --help', 'print this help and exit')
    .showHelpAfterError();

  program
    .command('run')
    .description('run the operator (in a cluster it uses the in-cluster configuration)')
    .addOption(option('--kubeconfig <file>', 'kubeconfig file', '$KUBECONFIG, else ~/.kube/config, else the in-cluster account'))
    .addOption(option('--context <name>', 'kubeconfig context to use', "the kubeconfig's current-context"))
    .addOption(option('--namespace <ns>', "the operator's namespace, where source Secrets live", `$POD_NAMESPACE, else ${RUN_DEFAULTS.namespace}`))
    .addOption(
      option('--log-level <level>', 'log level', `$LOG_LEVEL, else ${RUN_DEFAULTS.logLevel}`).choices(LOG_LEVELS.filter((l) => l !== 'fatal')),
    )
    .addOption(option('--concurrency <n>', 'RegistryCredentials reconciled at once', RUN_DEFAULTS.concurrency))
    .addOption(option('--write-concurrency <n>', 'Secret and ServiceAccount writes in flight at once, across all credentials', RUN_DEFAULTS.writeConcurrency))
    .addOption(option('--health-port <port>', 'port for /healthz and /readyz; 0 = any free port', RUN_DEFAULTS.healthPort))
    .addOption(option('--metrics-port <port>', 'port for Prometheus /metrics; 0 = any free port', RUN_DEFAULTS.metricsPort))
    .addOption(option('--resync-seconds <n>', 'safety-net resync interval', RUN_DEFAULTS.resyncSeconds))
    .addOption(
      option('--provider-timeout-seconds <n>', 'how long one ECR or Google call may take before it counts as failed', RUN_DEFAULTS.providerTimeoutSeconds),
    )
    .addOption(
      option('--provider-concurrency <n>', 'ECR or Google calls in flight at once, per provider; more wait their turn', RUN_DEFAULTS.providerConcurrency),
    )
    .addOption(option('--verify-timeout-seconds <n>', 'how long one request of a registry check (Verified) may take', RUN_DEFAULTS.verifyTimeoutSeconds))
    .addOption(option('--verify-concurrency <n>', 'registry hosts checked at once, across all RegistryCredentials', RUN_DEFAULTS.verifyConcurrency))
    .addOption(
      option('--registry-ca-file <file>', 'PEM bundle of CAs to trust for registry checks, besides the system roots (a private registry)', '$REGCRED_REGISTRY_CA_FILE, else none'),
    )
    .addOption(
      option('--dockerhub-headroom-percent <n>', 'warn when Docker Hub pulls left fall below this percentage of the limit', RUN_DEFAULTS.dockerhubHeadroomPercent),
    )
    .addOption(
      option(
        '--heap-growing-percent <n>',
        'collect garbage once the heap grows this much past what is live (lower: smaller peaks, more GC); 0 = V8 decides',
        RUN_DEFAULTS.heapGrowingPercent,
      ),
    )
    .addOption(option('--leader-elect', 'run as one of several replicas: only the holder of the Lease regcred-operator in --namespace works, the others wait warm', 'off'))
    .addOption(
      option('--leader-elect-lease-duration-seconds <n>', 'how long followers wait, from the last renewal they saw, before taking the lease', RUN_DEFAULTS.leaderElectLeaseDurationSeconds),
    )
    .addOption(
      option('--leader-elect-renew-deadline-seconds <n>', 'how long the leader retries renewing before it gives up leadership (and exits)', RUN_DEFAULTS.leaderElectRenewDeadlineSeconds),
    )
    .addOption(option('--leader-elect-retry-period-seconds <n>', 'how often the leader renews and followers look', RUN_DEFAULTS.leaderElectRetryPeriodSeconds))
    .action(async (flags: RunFlags) => {
      const { main } = await import('./main.js');
      process.exitCode = await main.run(flags);
    });

  program
    .command('local')
    .description('start a local control plane (etcd, kube-apiserver, controller-manager) and install the CRD; runs until interrupted')
    .addOption(dirOption('state directory (certificates, etcd data); the kubeconfig is written to DIR/kubeconfig'))
    .addOption(apiPortOption())
    .addOption(option('--audit-log', 'write an API audit log to DIR/audit.log', 'off'))
    .addOption(option('--build-only', 'only build (or find the cached build of) the control plane binary, then exit', 'off'))
    .action(async (flags: LocalFlags) => {
      const { main } = await import('./main.js');
      process.exitCode = await main.local(flags);
    });

  program
    .command('start')
    .description('run the operator against the current kube context; with none configured, start a local control plane first (npm start)')
    .addOption(dirOption('local control plane state directory, when one is started'))
    .addOption(apiPortOption())
    .action(async (flags: StartFlags) => {
      const { main } = await import('./main.js');
      process.exitCode = await main.start(flags);
    });

  program
    .command('doctor')
    .description('explain why pods cannot pull their images (ErrImagePull, ImagePullBackOff, InvalidImageName), from the Kubernetes API alone; exit 0: none failing, 1: some failing, 2: usage error')
    .argument('[pod]', 'only this pod (in the namespace of -n)')
    .addOption(option('-n, --namespace <ns>', 'namespace to check', "the kubeconfig context's namespace, else default"))
    .addOption(option('-A, --all-namespaces', 'check every namespace', 'off'))
    .addOption(option('-o, --output <format>', 'output format: text or json', 'text'))
    .addOption(option('--kubeconfig <file>', 'kubeconfig file', '$KUBECONFIG, else ~/.kube/config, else the in-cluster account'))
    .addOption(option('--context <name>', 'kubeconfig context to use', "the kubeconfig's current-context"))
    .exitOverride((err: CommanderError) => {
      throw new UsageExit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (pod: string | undefined, flags: DoctorFlags) => {
      const { runDoctor } = await import('./doctor/command.js');
      process.exitCode = await runDoctor(pod, flags, `${program.name()} doctor`);
    });

  program
    .command('uninstall')
    .description(
      'remove regcred-operator in the order that leaves nothing stuck: every RegistryCredential (finalized by the running operator), then its Deployment and RBAC; exit 0: done, 1: refused or failed, 2: usage error or no --yes',
    )
    .addOption(option('--kubeconfig <file>', 'kubeconfig file', '$KUBECONFIG, else ~/.kube/config, else the in-cluster account'))
    .addOption(option('--context <name>', 'kubeconfig context to use', "the kubeconfig's current-context"))
    .addOption(option('--namespace <ns>', "the operator's namespace", DEFAULT_OPERATOR_NAMESPACE))
    .addOption(option('--name <name>', 'name of its Deployment, ServiceAccount, Role, RoleBinding, ClusterRole and ClusterRoleBinding', DEFAULT_OPERATOR_NAME))
    .addOption(option('--delete-crd', 'also delete the CRD (kept otherwise, as Helm keeps CRDs)', 'off'))
    .addOption(option('--delete-namespace', "also delete the operator's namespace, with the source Secrets in it", 'off'))
    .addOption(option('--timeout-seconds <n>', 'how long to wait for the RegistryCredentials (and the CRD) to be gone', DEFAULT_TIMEOUT_SECONDS))
    .addOption(option('--dry-run', 'only print the plan; change nothing', 'off'))
    .addOption(option('--yes', 'carry out the plan (without it: print the plan and exit 2)', 'off'))
    .addOption(
      option('--force-orphan', 'the operator is gone: remove the finalizers without it, keeping every Secret and ServiceAccount entry it wrote', 'off'),
    )
    .exitOverride((err: CommanderError) => {
      throw new UsageExit(err.exitCode === 0 ? 0 : 2);
    })
    .action(async (flags: UninstallFlags) => {
      const { runUninstall } = await import('./uninstall/command.js');
      process.exitCode = await runUninstall(flags, `${program.name()} uninstall`);
    });

  return program;
}

export async function runCli(argv: string[]): Promise<void> {
  try {
    await buildProgram(programName(argv)).parseAsync(argv);
  } catch (err) {
    // commander has already printed what was wrong (and the help).
    if (err instanceof UsageExit) process.exitCode = err.exitCode;
    else throw err;
  }
}
