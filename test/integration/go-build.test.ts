import { describe, expect, it } from '@jest/globals';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { goBuild } from '../../src/local/control-plane.js';

// What `regcred local` does on its first run, on a small Go program: go build's output goes to a log
// file, the terminal gets a progress line now and then, and a failure names the log and shows its end.
function goProgram(main: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'regcred-gobuild-'));
  writeFileSync(join(dir, 'go.mod'), 'module example.com/hello\n\ngo 1.22\n');
  writeFileSync(join(dir, 'main.go'), main);
  return dir;
}

describe('goBuild', () => {
  it('keeps the build output in the log and prints only short progress lines', async () => {
    const dir = goProgram('package main\n\nimport "fmt"\n\nfunc main() { fmt.Println("hello") }\n');
    const logFile = join(dir, 'logs', 'build.log');
    const progress: string[] = [];
    const seconds = await goBuild({ sourceDir: dir, output: join(dir, 'hello'), logFile, what: 'hello', progress: (m) => progress.push(m), intervalMs: 5 });
    expect(seconds).toBeGreaterThan(0);
    expect(existsSync(join(dir, 'hello'))).toBe(true);
    const log = readFileSync(logFile, 'utf8');
    expect(log).toMatch(/^# go build -v -trimpath -o .*hello \. \(in .*\), \d{4}-/);
    expect(log).toMatch(/# go build exited 0 after \d+ s\n$/);
    expect(progress.length).toBeGreaterThan(0);
    for (const line of progress) {
      expect(line).toMatch(new RegExp(`^building hello, \\d+ s so far(, [\\d,]+ packages? compiled)?; log: ${logFile.replace(/[.]/g, '\\.')}$`));
    }
  });

  it('fails with the log path and its last lines', async () => {
    const dir = goProgram('package main\n\nfunc main() { this is not Go }\n');
    const logFile = join(dir, 'build.log');
    const progress: string[] = [];
    const failure = goBuild({ sourceDir: dir, output: join(dir, 'hello'), logFile, what: 'hello', progress: (m) => progress.push(m) });
    await expect(failure).rejects.toThrow(`building hello failed (go build exited 1); the full log is ${logFile}, its last 20 lines:\n`);
    await expect(failure).rejects.toThrow(/main\.go:3:\d+: syntax error/);
    expect(readFileSync(logFile, 'utf8')).toMatch(/syntax error[\s\S]*# go build exited 1 after/);
    expect(existsSync(join(dir, 'hello'))).toBe(false);
    expect(progress).toEqual([]);
  });
});
