import { randomBytes } from 'node:crypto';
import { CREDENTIAL_LABEL } from '../../src/api/constants.js';
import { auditMark } from '../lib/audit.js';
import { CREDENTIAL_NAME, SOURCE_SECRET, timeoutFor, type BenchContext } from '../lib/context.js';
import { OPERATOR_USER, replaceOpaqueSecret, watchFanOut } from '../lib/kube.js';
import type { OperatorProcess } from '../lib/operator.js';
import type { RotationResult } from '../lib/results.js';
import { progress } from '../lib/util.js';
import { repeated, writesSince } from './fanout.js';

/**
 * `times` rotations one after the other, as the long-running operator's workload (the memory scenario
 * samples it afterwards): the figure is their median, with every run's time in `samplesMs`, and the writes
 * and CPU time are the last one's.
 */
export async function rotations(ctx: BenchContext, targets: readonly string[], operator: OperatorProcess, times: number): Promise<RotationResult> {
  return repeated(times, async (which) => {
    progress(`size ${targets.length}: rotation${which}`);
    return rotation(ctx, targets, operator);
  });
}

/** A new password in the source Secret; timed until every target namespace's Secret holds it. */
export async function rotation(ctx: BenchContext, targets: readonly string[], operator: OperatorProcess): Promise<RotationResult> {
  const password = `pw-${randomBytes(8).toString('hex')}`;
  const timeoutMs = timeoutFor(60_000, 40, targets.length);
  const mark = auditMark(ctx.auditLog);
  const cpuBefore = operator.cpuSeconds();
  const started = Date.now();
  await replaceOpaqueSecret(ctx.admin.core, SOURCE_SECRET, { username: ctx.credential.username, password });
  ctx.credential = { ...ctx.credential, password };
  const outcome = await watchFanOut(ctx.admin.kc, new Set(targets), CREDENTIAL_NAME, { labelSelector: `${CREDENTIAL_LABEL}=${CREDENTIAL_NAME}` }, ctx.credential, started, timeoutMs);
  const cpuS = operator.cpuSeconds() - cpuBefore;
  const writes = await writesSince(ctx, mark, OPERATOR_USER);
  return {
    // Every Secret holding the new password (the entries were in place before).
    ms: outcome.secretsMs,
    timeoutMs,
    targets: targets.length,
    detail: outcome.last ? `${outcome.last.secrets}/${targets.length} Secrets hold the new password` : 'no successful list',
    writes,
    cpuS,
    events: outcome.events,
  };
}
