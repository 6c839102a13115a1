import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { REPO_ROOT, startOperator, kubeconfigPath } from '../support/cluster.js';

const CLI = resolve(REPO_ROOT, 'dist', 'cli.js');

function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => done({ code, stdout, stderr }));
  });
}

describe('regcred run', () => {
  it('connects under its own RBAC identity, syncs its caches, and stops cleanly on SIGTERM', async () => {
    const operator = startOperator();
    const synced = await operator.waitForLog((l) => l.msg === 'caches synced');
    expect(Object.keys(synced.cached as object).sort()).toEqual(
      ['managed-secrets', 'namespaces', 'registrycredentials', 'serviceaccounts', 'source-secrets'],
    );
    const code = await operator.stop('SIGTERM');
    expect(code).toBe(0);
    expect(operator.logs.some((l) => l.msg === 'stopped')).toBe(true);
  });

  it('rejects bad flags with a message that says what to fix', async () => {
    const badNamespace = await runCli(['run', '--kubeconfig', kubeconfigPath(), '--namespace', 'Not_A_Namespace']);
    expect(badNamespace.code).toBe(2);
    expect(badNamespace.stderr).toMatch(/--namespace "Not_A_Namespace" is not a valid namespace name/);

    const badConcurrency = await runCli(['run', '--kubeconfig', kubeconfigPath(), '--concurrency', 'lots']);
    expect(badConcurrency.code).toBe(2);
    expect(badConcurrency.stderr).toMatch(/--concurrency "lots" must be a whole number from 1 to 64/);

    const badContext = await runCli(['run', '--kubeconfig', kubeconfigPath(), '--context', 'nope']);
    expect(badContext.code).toBe(2);
    expect(badContext.stdout + badContext.stderr).toMatch(/context \\?"nope\\?" is not in the kubeconfig/);
  });
});

describe('regcred local', () => {
  it('starts a control plane, writes DIR/kubeconfig, prints how to use it, and shuts down on Ctrl-C', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'regcred-local-cli-'));
    const child = spawn(process.execPath, [CLI, 'local', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<string>((done) => child.once('exit', (code, signal) => done(`code ${code} signal ${signal}`)));
    const output: string[] = [];
    await new Promise<void>((ready, failed) => {
      createInterface({ input: child.stdout }).on('line', (line) => {
        output.push(line);
        if (line.includes('kubectl get registrycredentials')) ready();
      });
      void exited.then((code) => failed(new Error(`regcred local exited ${code}: ${output.join('\n')}`)));
    });
    expect(output.join('\n')).toContain(`export KUBECONFIG=${join(dir, 'kubeconfig')}`);
    expect(existsSync(join(dir, 'kubeconfig'))).toBe(true);
    expect(readFileSync(join(dir, 'kubeconfig'), 'utf8')).toMatch(/current-context: regcred-local/);

    // As a person would: a moment after the prompt, Ctrl-C.
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGINT');
    const how = await exited;
    if (how !== 'code 0 signal null') throw new Error(`regcred local ended with ${how}; stderr:\n${stderr}`);
    expect(stderr).toContain('stopping the local control plane (SIGINT)');
  }, 120_000);
});
