/**
 * `regcred uninstall`: removes regcred-operator from a cluster in the order that leaves nothing stuck.
 *
 * 1. While the operator still runs, every RegistryCredential is deleted and the operator finalizes each
 *    as its deletionPolicy says (Delete: its Secrets and ServiceAccount entries removed; Orphan: kept).
 * 2. Then the operator's own objects go: Deployment, ServiceAccount, RoleBinding, Role,
 *    ClusterRoleBinding, ClusterRole; the CRD only with --delete-crd, the namespace only with
 *    --delete-namespace.
 *
 * With the operator already gone, --force-orphan lets the RegistryCredentials go without it, leaving
 * everything they published in place.
 *
 * Exit 0: done (or --dry-run); 1: refused (the operator is not running, or is running with
 * --force-orphan), a RegistryCredential still held at the timeout, or an API error; 2: a usage error,
 * including a missing --yes.
 */
import { CRD_NAME, FINALIZER } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import { connect, loadKubeConfig, type KubeConnection } from '../kube/connection.js';
import { plural } from '../status/plural.js';
import {
  deleteCredential,
  deleteOperatorObject,
  gatherFacts,
  listCredentials,
  orphanCredential,
  probeOperator,
  waitForCredentialsGone,
  waitForObjectGone,
} from './cluster.js';
import {
  describeDeployment,
  describeObject,
  operatorObjects,
  planLines,
  PROBE_TIMEOUT_SECONDS,
  uninstallOptions,
  type ClusterFacts,
  type UninstallFlags,
  type UninstallOptions,
} from './plan.js';

/** Where the command writes: stdout for the plan and progress, stderr for what went wrong. */
export interface Output {
  out(line: string): void;
  err(line: string): void;
}

const processOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/** Thrown to stop with an exit status after the reason has been printed. */
class Stop extends Error {
  constructor(readonly exitCode: number) {
    super(`exit ${exitCode}`);
  }
}

export async function runUninstall(flags: UninstallFlags, prog = 'regcred uninstall', output: Output = processOutput): Promise<number> {
  let options: UninstallOptions;
  let conn: KubeConnection;
  try {
    options = uninstallOptions(flags);
    conn = connect(loadKubeConfig({ kubeconfig: flags.kubeconfig, context: flags.context }));
  } catch (err) {
    output.err(`${prog}: ${(err as Error).message}`);
    return 2;
  }
  try {
    return await uninstall(conn, options, prog, output);
  } catch (err) {
    if (err instanceof Stop) return err.exitCode;
    output.err(`${prog}: ${(err as Error).message}`);
    output.err(`${prog}: stopped; what is done stays done, and running the command again carries on from here.`);
    return 1;
  } finally {
    await conn.close();
  }
}

async function uninstall(conn: KubeConnection, options: UninstallOptions, prog: string, output: Output): Promise<number> {
  const facts = await gatherFacts(conn, options);
  output.out(`${prog}: ${facts.server}`);
  output.out(options.forceOrphan ? 'Plan (--force-orphan: without the operator):' : 'Plan:');
  for (const line of planLines(options, facts)) output.out(line);
  if (options.dryRun) {
    output.out('Dry run: nothing was changed.');
    return 0;
  }
  if (!options.yes) {
    output.err(`${prog}: nothing was changed. Add --yes to carry out this plan (or --dry-run to only print it).`);
    return 2;
  }
  if (facts.crdInstalled && facts.credentials.length > 0) {
    if (options.forceOrphan) await orphanAll(conn, options, facts, prog, output);
    else await deleteAll(conn, options, facts, prog, output);
  }
  await deleteOperatorObjects(conn, options, output);
  output.out(`Done: regcred-operator is uninstalled${options.deleteCrd ? '' : `; the CRD ${CRD_NAME} is kept`}.`);
  return 0;
}

const FORCE_ORPHAN_HINT = [
  'Either start the operator again (kubectl apply -k config/default, or scale its Deployment back up) and run',
  '  regcred uninstall --yes',
  'so that each RegistryCredential is cleaned up as its deletionPolicy says; or let them go without it:',
  '  regcred uninstall --force-orphan --yes',
  'which removes the finalizers and keeps every Secret and ServiceAccount entry the operator wrote, as',
  'deletionPolicy: Orphan does (docs/reference.md, regcred uninstall, has the kubectl equivalent).',
];

/** The safe order: a running operator finalizes every RegistryCredential. */
async function deleteAll(conn: KubeConnection, options: UninstallOptions, facts: ClusterFacts, prog: string, output: Output): Promise<void> {
  const probeMs = Math.min(PROBE_TIMEOUT_SECONDS * 1000, options.timeoutMs);
  output.out(`Checking that the operator is running (${describeDeployment(options, facts.deployment)}) …`);
  const probe = await probeOperator(conn, probeMs);
  if (!probe.running) {
    output.err(`${prog}: refusing: the operator is not running: ${probe.why} (${describeDeployment(options, facts.deployment)}).`);
    output.err(`Deleting the RegistryCredentials now would leave them stuck on the ${FINALIZER} finalizer with no one to remove it.`);
    if (probe.leftBehind) output.err(`The probe ${probe.name} is itself held by the finalizer now; --force-orphan lets it go too.`);
    for (const line of FORCE_ORPHAN_HINT) output.err(line);
    output.err(probe.leftBehind ? 'Nothing else was changed.' : 'Nothing was changed.');
    throw new Stop(1);
  }
  output.out(`The operator is running: it finalized the probe RegistryCredential ${probe.name}.`);
  // Listed again: one created since the plan was printed goes too.
  const credentials = await listCredentials(conn);
  for (const credential of credentials) {
    const name = credential.metadata.name;
    const policy = credential.spec?.deletionPolicy ?? 'Delete';
    const already = credential.metadata.deletionTimestamp ? ' (already being deleted)' : '';
    await deleteCredential(conn, name);
    output.out(`  deleted RegistryCredential ${name} (deletionPolicy ${policy})${already}`);
  }
  output.out(`Waiting up to ${options.timeoutMs / 1000}s for the operator to release ${plural(credentials.length, 'RegistryCredential')} …`);
  await awaitCredentialsGone(conn, credentials, options, prog, output, 'still held', [
    `The operator keeps retrying; its log says why (kubectl -n ${options.namespace} logs deployment/${options.name}). Run this command`,
    'again to wait longer (--timeout-seconds), or let them go without cleanup: regcred uninstall --force-orphan --yes',
    `(with the operator stopped first). The operator's own objects were not deleted.`,
  ]);
  output.out('Every RegistryCredential is gone.');
}

/** Waits until the credentials are gone, saying each as it goes; those still there stop the command with `explanation`. */
async function awaitCredentialsGone(
  conn: KubeConnection,
  credentials: readonly RegistryCredential[],
  options: UninstallOptions,
  prog: string,
  output: Output,
  still: string,
  explanation: readonly string[],
): Promise<void> {
  const held = await waitForCredentialsGone(
    conn,
    credentials.map((c) => c.metadata.name),
    options.timeoutMs,
    (name) => output.out(`  gone: ${name}`),
  );
  if (held.length === 0) return;
  output.err(`${prog}: ${plural(held.length, 'RegistryCredential')} ${still} after ${options.timeoutMs / 1000}s:`);
  for (const credential of held) output.err(`  ${describeHeld(credential)}`);
  for (const line of explanation) output.err(line);
  throw new Stop(1);
}

/** One held RegistryCredential: its finalizers, since when it is being deleted, and its conditions that are not True. */
export function describeHeld(credential: RegistryCredential): string {
  const parts = [`${credential.metadata.name}: finalizers [${(credential.metadata.finalizers ?? []).join(', ')}]`];
  if (credential.metadata.deletionTimestamp) parts.push(`deleted at ${credential.metadata.deletionTimestamp}`);
  const conditions = credential.status?.conditions ?? [];
  const notTrue = conditions.filter((c) => c.status !== 'True');
  for (const c of notTrue.length > 0 ? notTrue : conditions.filter((c) => c.type === 'Ready')) {
    parts.push(`${c.type}=${c.status} ${c.reason}${c.message ? `: ${c.message}` : ''}`);
  }
  if (conditions.length === 0) parts.push('no status: no operator has reconciled it');
  return parts.join('; ');
}

/** The way out: no operator, so the command does what Orphan would have, for every RegistryCredential. */
async function orphanAll(conn: KubeConnection, options: UninstallOptions, facts: ClusterFacts, prog: string, output: Output): Promise<void> {
  if (facts.deployment && facts.deployment.availableReplicas > 0) {
    output.err(`${prog}: refusing --force-orphan: the operator is running (${describeDeployment(options, facts.deployment)}).`);
    output.err('It would finalize the RegistryCredentials itself: run regcred uninstall --yes without --force-orphan, or stop it first:');
    output.err(`  kubectl -n ${options.namespace} scale deployment/${options.name} --replicas=0`);
    output.err('Nothing was changed.');
    throw new Stop(1);
  }
  const credentials = await listCredentials(conn);
  for (const credential of credentials) {
    const result = await orphanCredential(conn, credential);
    const finalizer = result.finalizer === 'removed' ? `${FINALIZER} finalizer removed` : result.finalizer === 'none' ? 'had no finalizer' : 'already gone';
    output.out(`  let go RegistryCredential ${credential.metadata.name}: ${finalizer}; ownerReference removed from ${plural(result.secretsDisowned, 'Secret')}, which stay`);
  }
  await awaitCredentialsGone(conn, credentials, options, prog, output, 'still there', [
    'Another finalizer (not regcred-operator\'s) holds them, or something recreated them. The operator\'s own objects were not deleted.',
  ]);
  output.out('Every RegistryCredential is gone; the Secrets and ServiceAccount entries they published stay in place (as with deletionPolicy: Orphan).');
}

async function deleteOperatorObjects(conn: KubeConnection, options: UninstallOptions, output: Output): Promise<void> {
  for (const obj of operatorObjects(options)) {
    const result = await deleteOperatorObject(conn, obj);
    if (result === 'not found') {
      output.out(`  ${describeObject(obj)}: not found`);
      continue;
    }
    if (obj.kind === 'CustomResourceDefinition') {
      if (!(await waitForObjectGone(conn, obj, options.timeoutMs))) {
        throw new Error(`CustomResourceDefinition ${CRD_NAME} is still being deleted after ${options.timeoutMs / 1000}s (kubectl get crd ${CRD_NAME} -o yaml says why)`);
      }
    }
    output.out(`  deleted ${describeObject(obj)}${obj.kind === 'Namespace' ? ' (the namespace controller removes what is in it)' : ''}`);
  }
}
