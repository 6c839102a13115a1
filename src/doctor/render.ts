/** The report as text for a person (the default) or as the JSON document of `-o json`. */
import { ANONYMOUS_HUB_LIMIT } from './explain.js';
import type { ContainerDiagnosis, CredentialSummary, DoctorReport, PodPullSecret } from './types.js';

const MAX_RISK_LINES = 10;
/** "pull Secrets:" and a space. */
const LABEL_WIDTH = 15;

export function renderJson(report: DoctorReport): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}

export function renderText(report: DoctorReport): string {
  const out: string[] = [];
  for (const failure of report.failures) out.push(...renderFailure(failure), '');
  out.push(...renderSummary(report));
  return `${out.join('\n')}\n`;
}

function renderFailure(f: ContainerDiagnosis): string[] {
  const kind = f.containerType === 'container' ? 'container' : f.containerType === 'initContainer' ? 'init container' : 'ephemeral container';
  const lines = [`${f.namespace}/${f.pod} (${kind} ${f.container}): cannot pull ${f.image} [${f.waitingReason}]`];
  const field = (label: string, value: string): void => {
    lines.push(`  ${(label === '' ? '' : `${label}:`).padEnd(LABEL_WIDTH)}${value}`);
  };
  field('cause', `${f.cause}: ${f.explanation}`);
  f.evidence.forEach((line, i) => field(i === 0 ? 'evidence' : '', line));
  field('pull Secrets', describePullSecrets(f.pullSecrets, f.serviceAccount));
  field('credential', describeCredential(f));
  for (const finding of f.findings) field('problem', finding.message);
  field('fix', f.fix.summary);
  for (const command of f.fix.commands) {
    for (const [i, line] of command.split('\n').entries()) lines.push(`${' '.repeat(LABEL_WIDTH + 2)}${i === 0 ? '' : '  '}${line}`);
  }
  return lines;
}

function describePullSecrets(secrets: PodPullSecret[], serviceAccount: string): string {
  if (secrets.length === 0) return `the pod lists none (ServiceAccount ${serviceAccount})`;
  return secrets
    .map((s) => {
      const facts = [s.exists === false ? 'missing' : s.exists === null ? 'unreadable' : s.coversImage ? 'covers the image' : 'does not cover the image'];
      if (s.managedBy) facts.push(`RegistryCredential ${s.managedBy}`);
      return `${s.name} (${facts.join(', ')})`;
    })
    .join('; ');
}

function describeCredential(f: ContainerDiagnosis): string {
  const c: CredentialSummary | undefined = f.credential;
  if (!c) return f.registry ? `no RegistryCredential covers ${f.registry}` : 'none';
  const facts: string[] = [`Secret ${c.secretName}`];
  if (c.ready) facts.push(`Ready=${c.ready.status}${c.ready.status === 'True' ? '' : ` (${c.ready.reason})`}`);
  if (c.verified) facts.push(`Verified=${c.verified.status} (${c.verified.reason})`);
  if (c.rateLimit) facts.push(`rate limit ${c.rateLimit.remaining}/${c.rateLimit.limit}`);
  if (c.targetsNamespace === false) facts.push(`does not target ${f.namespace}`);
  const others = f.candidates.filter((name) => name !== c.name);
  return `RegistryCredential ${c.name} (${facts.join(', ')})${others.length > 0 ? `; also covering: ${others.join(', ')}` : ''}`;
}

function renderSummary(report: DoctorReport): string[] {
  const where = report.scope.allNamespaces ? 'in all namespaces' : `in namespace ${report.scope.namespace}`;
  const lines: string[] = [];
  for (const warning of report.warnings) lines.push(`warning: ${warning}`);
  const { summary } = report;
  lines.push(
    summary.failingContainers === 0
      ? `Checked ${count(summary.podsChecked, 'pod')} ${where}: none is failing to pull an image.`
      : `Checked ${count(summary.podsChecked, 'pod')} ${where}: ${count(summary.failingPods, 'pod')} cannot pull (${count(summary.failingContainers, 'container')}).`,
  );
  const anonymous = report.risks.anonymousDockerHub;
  if (anonymous.containers > 0) {
    lines.push(
      `Rate-limit risk: ${count(anonymous.containers, 'container')} in ${count(anonymous.pods, 'pod')} ${anonymous.containers === 1 ? 'pulls' : 'pull'} a mutable tag from Docker Hub with no pull Secret for it ` +
        `(anonymous pulls: ${ANONYMOUS_HUB_LIMIT}, shared by every node behind that IP):`,
    );
    for (const item of anonymous.items.slice(0, MAX_RISK_LINES)) lines.push(`  ${item.namespace}/${item.pod} ${item.container}: ${item.image} (${item.why.join(', ')})`);
    if (anonymous.items.length > MAX_RISK_LINES) lines.push(`  … and ${anonymous.items.length - MAX_RISK_LINES} more (-o json lists all)`);
  }
  for (const low of report.risks.lowRateLimit) {
    lines.push(`Rate-limit risk: RegistryCredential ${low.credential} has ${low.remaining} of ${low.limit} Docker Hub pulls left${low.checkedAt ? ` (checked ${low.checkedAt})` : ''}.`);
  }
  return lines;
}

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}
