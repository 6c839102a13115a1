/**
 * The Go tools of .ci/tools.txt (helm, kubeconform, actionlint): where .ci/run builds them, and how to
 * build one that is missing.
 */
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const ROOT = resolve(import.meta.dirname, '..', '..');

export interface Tool {
  name: string;
  module: string;
  version: string;
  /** GOBIN of this tool: .regcred/tools/NAME-VERSION. */
  dir: string;
}

export function tools(): Tool[] {
  return readFileSync(join(ROOT, '.ci', 'tools.txt'), 'utf8')
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter(Boolean)
    .map((line) => {
      const [name, module, version] = line.split(/\s+/) as [string, string, string];
      return { name, module, version, dir: join(ROOT, '.regcred', 'tools', `${name}-${version}`) };
    });
}

/** The built binary of a tool; throws with the command that builds it when it is not there. */
export function toolPath(name: 'helm' | 'kubeconform' | 'actionlint'): string {
  const tool = tools().find((t) => t.name === name);
  if (!tool) throw new Error(`${name} is not listed in .ci/tools.txt`);
  const path = join(tool.dir, name);
  if (!existsSync(path)) {
    throw new Error(
      `${name} ${tool.version} is not built. Build it (Go from the module proxy, a few minutes the first time) with:\n` +
        `  GOBIN=${tool.dir} go install ${tool.module}@${tool.version}\n` +
        'or run bash .ci/run, which builds every tool of .ci/tools.txt.',
    );
  }
  return path;
}

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool; never rejects: the exit code and output are the result. */
export function runTool(
  name: 'helm' | 'kubeconform' | 'actionlint',
  args: string[],
  options: { input?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ToolResult> {
  const path = toolPath(name);
  return new Promise((done) => {
    const child = execFile(
      path,
      args,
      { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
        done({ code, stdout, stderr });
      },
    );
    child.stdin?.end(options.input ?? '');
  });
}
