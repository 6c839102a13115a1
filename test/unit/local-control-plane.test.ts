import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chooseApiPort, displayPath, formatSeconds, isPortFree, recordedApiPort } from '../../src/local/control-plane.js';

function listen(port: number): Promise<Server> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen({ host: '127.0.0.1', port }, () => done(server));
  });
}

function close(server: Server): Promise<void> {
  return new Promise((done) => server.close(() => done()));
}

async function freePort(): Promise<number> {
  const server = await listen(0);
  const { port } = server.address() as AddressInfo;
  await close(server);
  return port;
}

function stateDir(server?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'regcred-port-'));
  if (server) {
    writeFileSync(
      join(dir, 'kubeconfig'),
      `kind: Config\napiVersion: v1\nclusters:\n- name: regcred-local\n  cluster:\n    server: ${server}\n    certificate-authority-data: AAAA\n`,
    );
  }
  return dir;
}

describe('the local API server port', () => {
  it('is read from the kubeconfig the previous start wrote', () => {
    expect(recordedApiPort(stateDir('https://127.0.0.1:40511'))).toBe(40511);
    expect(recordedApiPort(stateDir())).toBeUndefined();
    expect(recordedApiPort(stateDir('https://example.com:443'))).toBeUndefined();
  });

  it('is the recorded one when it is free', async () => {
    const port = await freePort();
    expect(await chooseApiPort(stateDir(`https://127.0.0.1:${port}`))).toEqual({ port, recorded: port });
  });

  it('is another free one when the recorded one is taken, and says which was recorded', async () => {
    const taken = await listen(0);
    const port = (taken.address() as AddressInfo).port;
    try {
      expect(await isPortFree(port)).toBe(false);
      const choice = await chooseApiPort(stateDir(`https://127.0.0.1:${port}`));
      expect(choice.recorded).toBe(port);
      expect(choice.port).not.toBe(port);
      expect(await isPortFree(choice.port)).toBe(true);
    } finally {
      await close(taken);
    }
  });

  it('is any free port for a new state directory', async () => {
    const choice = await chooseApiPort(stateDir());
    expect(choice.recorded).toBeUndefined();
    expect(choice.port).toBeGreaterThan(0);
  });

  it('is the one asked for, over the recorded one; a taken one is an error', async () => {
    const wanted = await freePort();
    expect(await chooseApiPort(stateDir('https://127.0.0.1:40511'), wanted)).toEqual({ port: wanted, recorded: 40511 });
    const taken = await listen(0);
    const port = (taken.address() as AddressInfo).port;
    try {
      await expect(chooseApiPort(stateDir(), port)).rejects.toThrow(`port ${port} (--api-port) is in use on 127.0.0.1`);
    } finally {
      await close(taken);
    }
  });
});

describe('build progress', () => {
  it.each([
    [0.4, '0 s'],
    [45, '45 s'],
    [59.6, '1 min 00 s'],
    [185, '3 min 05 s'],
  ])('%s s is "%s"', (seconds, shown) => {
    expect(formatSeconds(seconds)).toBe(shown);
  });

  it('shows paths under the working directory relative to it', () => {
    expect(displayPath(join(process.cwd(), '.regcred', 'build.log'))).toBe(join('.regcred', 'build.log'));
    expect(displayPath('/somewhere/else/build.log')).toBe('/somewhere/else/build.log');
  });
});
