#!/usr/bin/env node
import { Command, Option } from 'commander';
import { main } from './main.js';

const program = new Command()
  .name('regcred')
  .description('regcred-operator: image pull secrets for every namespace, minted, fanned out and rotated')
  .showHelpAfterError();

program
  .command('run')
  .description('run the operator (in a cluster it uses the in-cluster configuration)')
  .option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, ~/.kube/config, or in-cluster)')
  .option('--context <name>', 'kubeconfig context to use')
  .option('--namespace <ns>', "the operator's namespace, where source Secrets live (default: $POD_NAMESPACE or regcred-system)")
  .addOption(new Option('--log-level <level>', 'log level').choices(['trace', 'debug', 'info', 'warn', 'error', 'silent']))
  .option('--concurrency <n>', 'RegistryCredentials reconciled at once (default 4)')
  .option('--write-concurrency <n>', 'API writes in flight within one fan-out (default 16)')
  .option('--health-port <port>', 'port for /healthz and /readyz (default 8081; 0 = any free port)')
  .option('--metrics-port <port>', 'port for Prometheus /metrics (default 8080; 0 = any free port)')
  .option('--resync-seconds <n>', 'safety-net resync interval (default 600)')
  .option('--provider-timeout-seconds <n>', 'how long one ECR or Google call may take before it counts as failed (default 30)')
  .option('--provider-concurrency <n>', 'ECR or Google calls in flight at once, per provider; more wait their turn (default 4)')
  .action(async (flags: Record<string, string | undefined>) => {
    process.exitCode = await main.run(flags);
  });

program
  .command('local')
  .description('start a local control plane (etcd, kube-apiserver, controller-manager) and install the CRD; runs until interrupted')
  .option('--dir <dir>', 'state directory; the kubeconfig is written to DIR/kubeconfig', '.regcred/local')
  .option('--audit-log', 'write an API audit log to DIR/audit.log')
  .option('--build-only', 'only build (or find the cached build of) the control plane binary, then exit')
  .action(async (flags: { dir: string; auditLog?: boolean; buildOnly?: boolean }) => {
    process.exitCode = await main.local(flags);
  });

program
  .command('start')
  .description('run the operator against the current kube context; with none configured, start a local control plane first (npm start)')
  .option('--dir <dir>', 'local control plane state directory, when one is started', '.regcred/local')
  .action(async (flags: { dir: string }) => {
    process.exitCode = await main.start(flags);
  });

await program.parseAsync(process.argv);
