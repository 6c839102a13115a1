/**
 * The README's quick start and example, run as written: the commands of its console blocks go to the
 * real kubectl against the local control plane with the operator running, and what kubectl prints must
 * be what the README shows, every column but AGE exactly (header and spacing included). So the README
 * cannot drift from what a user sees.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadAll } from 'js-yaml';
import { kubectl, REPO_ROOT, startOperator, uniqueName, waitFor, type CommandResult, type OperatorProcess } from '../support/cluster.js';
import { startConnectProxy, type ConnectProxy } from '../support/net-stubs.js';
import { startRegistry, type TestRegistry } from '../support/registry.js';

const README = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
const QUICKSTART_FILE = 'config/samples/quickstart.yaml';

interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: { namespaces?: { selector?: { matchLabels?: Record<string, string> } } };
}

/** The text of a README section, from its `## ` heading to the next. */
function section(heading: string): string {
  const start = README.indexOf(`\n## ${heading}\n`);
  if (start < 0) throw new Error(`README.md has no section "## ${heading}"`);
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

/** The fenced code blocks of a piece of markdown, with their language. */
function codeBlocks(markdown: string): { lang: string; body: string }[] {
  return [...markdown.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, body: m[2]! }));
}

interface Step {
  /** The command as the README shows it, without the prompt. */
  command: string;
  args: string[];
  expected: string[];
}

/** Splits a command line as a POSIX shell would, for the quoting the README uses ('…' and "…"). */
function shellWords(line: string): string[] {
  // A word is a run of unquoted characters and quoted parts: -o jsonpath='{.x}' is `-o`, `jsonpath={.x}`.
  return [...line.matchAll(/(?:[^\s'"]+|'[^']*'|"[^"]*")+/g)].map((m) => m[0].replace(/'([^']*)'|"([^"]*)"/g, '$1$2'));
}

/** `$ kubectl …` lines of a console block and the output under each; other commands (export) are skipped. */
function consoleSteps(block: string): Step[] {
  const steps: Step[] = [];
  let current: Step | undefined;
  for (const line of block.replace(/\n$/, '').split('\n')) {
    if (line.startsWith('$ ')) {
      const command = line.slice(2);
      const [program, ...args] = shellWords(command);
      current = program === 'kubectl' ? { command, args, expected: [] } : undefined;
      if (current) steps.push(current);
    } else if (current) {
      current.expected.push(line);
    }
  }
  return steps;
}

/** The console block that runs `command`. */
function consoleBlockWith(markdown: string, command: string): Step[] {
  const block = codeBlocks(markdown).find((b) => b.lang === 'console' && b.body.includes(`$ ${command}\n`));
  if (!block) throw new Error(`no console block runs "${command}"`);
  return consoleSteps(block.body);
}

const AGE = /^\d+[smhd](\d+[smhd])?$/;

/**
 * Output lines with the AGE cells blanked, when the output is a table whose last column is AGE: the
 * age is the one thing that differs from run to run. An age that is not one stays, so that it fails.
 */
function withoutAge(lines: string[]): string[] {
  const header = lines[0] ?? '';
  const at = header.search(/AGE$/);
  if (at < 0 || !/^NAME\s/.test(header)) return lines;
  return lines.map((line, i) => {
    const age = line.slice(at);
    return i > 0 && AGE.test(age) ? `${line.slice(0, at)}<age>` : line;
  });
}

function outputLines(result: CommandResult): string[] {
  return result.stdout.replace(/\n$/, '').split('\n');
}

/** Runs a step until kubectl prints what the README shows (the operator takes a moment), else fails with the difference. */
async function expectOutput(step: Step, args = step.args, timeoutMs = 20_000): Promise<void> {
  const expected = withoutAge(step.expected);
  let last: { code: number; stderr: string; output: string[] } | undefined;
  await waitFor(
    `\`${step.command}\` to print what README.md shows`,
    async () => {
      const result = await kubectl(args);
      last = { code: result.code, stderr: result.stderr, output: withoutAge(outputLines(result)) };
      return result.code === 0 && JSON.stringify(last.output) === JSON.stringify(expected);
    },
    timeoutMs,
    250,
  ).catch(() => undefined);
  expect({ command: step.command, ...last }).toEqual({ command: step.command, code: 0, stderr: '', output: expected });
}

let operator: OperatorProcess;
let ghcr: TestRegistry;
let proxy: ConnectProxy;
const cleanups: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  // What a user's operator meets at ghcr.io with the README's placeholder token is a registry that
  // refuses the login. Here that is a real registry serving a certificate for ghcr.io from a private
  // CA, reached through an HTTPS proxy that routes ghcr.io:443 to it (the operator honours HTTPS_PROXY
  // and --registry-ca-file as in a cluster); any other name fails at the proxy, as a made-up one does.
  ghcr = await startRegistry({ 'my-bot': `a-real-token-${uniqueName('t')}` }, { tls: true, tlsDnsNames: ['ghcr.io'] });
  proxy = await startConnectProxy({ 'ghcr.io:443': ghcr.host });
  operator = startOperator(['--registry-ca-file', ghcr.caFile!], { HTTPS_PROXY: proxy.url, HTTP_PROXY: '', NO_PROXY: '' });
  await operator.waitForLog((l) => l.msg === 'caches synced');
}, 60_000);

afterAll(async () => {
  // Deleting a RegistryCredential waits for its finalizer, which the running operator removes.
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  await operator.stop();
  await Promise.all([ghcr?.stop(), proxy?.stop()]);
}, 120_000);

describe('README.md, run as written', () => {
  it('quick start: applying config/samples/quickstart.yaml prints, and leads to, exactly what the README shows', async () => {
    const manifests = (loadAll(readFileSync(join(REPO_ROOT, QUICKSTART_FILE), 'utf8')) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
    const credential = manifests.find((m) => m.kind === 'RegistryCredential')!.metadata.name;
    const steps = consoleBlockWith(section('Quick start'), `kubectl apply -f ${QUICKSTART_FILE}`);
    expect(steps.map((s) => s.args.slice(0, 2).join(' '))).toEqual(['apply -f', 'get regcred', 'get secret', 'get serviceaccount']);
    cleanups.push(() => kubectl(['delete', '-f', QUICKSTART_FILE, '--ignore-not-found', '--timeout=60s']));

    // Applied once: its output says "created", as on the user's fresh control plane.
    const [apply, ...checks] = steps;
    const applied = await kubectl(apply!.args);
    expect({ code: applied.code, stderr: applied.stderr, output: outputLines(applied) }).toEqual({ code: 0, stderr: '', output: apply!.expected });

    const ready = await kubectl(['wait', '--for=condition=Ready', `registrycredential/${credential}`, '--timeout=30s']);
    expect(ready.stderr).toBe('');
    expect(ready.code).toBe(0);

    for (const step of checks) {
      // The shared control plane may hold other tests' RegistryCredentials: ask for this one, as the
      // README's `kubectl get regcred` shows it on a control plane that has no other.
      const args = step.args.join(' ') === 'get regcred' ? [...step.args, credential] : step.args;
      await expectOutput(step, args);
    }
  }, 120_000);

  it('example: the RegistryCredential shown, over as many labelled namespaces as the README says, prints what the README shows', async () => {
    const markdown = section('An example');
    const yaml = codeBlocks(markdown).find((b) => b.lang === 'yaml');
    expect(yaml).toBeDefined();
    const manifests = (loadAll(yaml!.body) as (Manifest | null)[]).filter((m): m is Manifest => m !== null);
    const credential = manifests.find((m) => m.kind === 'RegistryCredential')!;
    const labels = credential.spec?.namespaces?.selector?.matchLabels ?? {};
    expect(Object.keys(labels)).not.toHaveLength(0);

    const [step, ...rest] = consoleBlockWith(markdown, `kubectl get regcred ${credential.metadata.name}`);
    expect(rest).toEqual([]);
    // As many labelled namespaces as the README's TARGETS column says; its prose must say the same.
    const header = step!.expected[0]!;
    const targets = Number(step!.expected[1]!.slice(header.indexOf('TARGETS')).split(/\s+/)[0]);
    const words = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten'];
    const label = Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
    expect(markdown).toContain(`With ${words[targets]} namespaces labelled \`${label}\``);

    const namespaces = Array.from({ length: targets }, () => uniqueName('readme-example'));
    cleanups.push(() => kubectl(['delete', 'namespace', ...namespaces, '--ignore-not-found', '--timeout=60s']));
    for (const ns of namespaces) {
      const created = await kubectl(['apply', '-f', '-'], { input: JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns, labels } }) });
      expect(created.stderr).toBe('');
    }
    cleanups.push(() => kubectl(['delete', '-f', '-', '--ignore-not-found', '--timeout=60s'], { input: yaml!.body }));
    const applied = await kubectl(['apply', '-f', '-'], { input: yaml!.body });
    expect({ code: applied.code, stderr: applied.stderr }).toEqual({ code: 0, stderr: '' });

    const ready = await kubectl(['wait', '--for=condition=Ready', `registrycredential/${credential.metadata.name}`, '--timeout=30s']);
    expect(ready.code).toBe(0);
    await expectOutput(step!);
    // The verdict came from the registry behind ghcr.io, not from a failure to reach it.
    expect(proxy.connects).toContain('ghcr.io:443');
  }, 120_000);
});
