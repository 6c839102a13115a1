import { Writable } from 'node:stream';
import { describe, expect, it } from '@jest/globals';
import type { V1Secret } from '@kubernetes/client-node';
import { secretTemplate } from '../../src/desired/secret.js';
import type { KubeWriter } from '../../src/kube/writer.js';
import { createLogger } from '../../src/observability/logger.js';
import { Executor } from '../../src/reconcile/act.js';
import type { SecretWrite } from '../../src/reconcile/plan-secrets.js';
import type { AccountEdit } from '../../src/reconcile/plan-service-accounts.js';

const log = createLogger({ level: 'silent', pretty: false, destination: new Writable({ write: (_c, _e, cb) => cb() }) });
const template = secretTemplate({ credentialName: 'cred', credentialUid: 'uid-1', secretName: 'pull', dockerConfigJson: '{"auths":{}}' });

/** A writer whose writes wait until released, counting how many are in flight at once. */
function gatedWriter(): { writer: KubeWriter; inFlight: () => number; maxInFlight: () => number; maxOnOneObject: () => number; release: () => void; written: string[] } {
  const onObject = new Map<string, number>();
  let maxOnOne = 0;
  let inFlight = 0;
  let max = 0;
  let open = false;
  const waiting: (() => void)[] = [];
  const written: string[] = [];
  const gate = async <T>(what: string, result: T): Promise<T> => {
    inFlight++;
    max = Math.max(max, inFlight);
    onObject.set(what, (onObject.get(what) ?? 0) + 1);
    maxOnOne = Math.max(maxOnOne, onObject.get(what)!);
    if (!open) await new Promise<void>((resolve) => waiting.push(resolve));
    else await new Promise((resolve) => setImmediate(resolve));
    onObject.set(what, onObject.get(what)! - 1);
    inFlight--;
    written.push(what);
    return result;
  };
  const writer = {
    createSecret: (s: V1Secret) => gate(`secret ${s.metadata?.namespace}`, { ...s, metadata: { ...s.metadata, resourceVersion: '2' } }),
    patchServiceAccount: (namespace: string, name: string) => gate(`sa ${namespace}/${name}`, { metadata: { namespace, name, resourceVersion: '3' } }),
  } as unknown as KubeWriter;
  return {
    writer,
    inFlight: () => inFlight,
    maxInFlight: () => max,
    maxOnOneObject: () => maxOnOne,
    release: () => {
      open = true;
      for (const resolve of waiting.splice(0)) resolve();
    },
    written,
  };
}

/** The plan as an array that counts how many of its items have been read. */
function counted<T extends object>(items: T[]): { items: T[]; read: () => number } {
  const seen = new Set<string>();
  const proxy = new Proxy(items, {
    get(target, key, receiver) {
      if (typeof key === 'string' && /^\d+$/.test(key)) seen.add(key);
      return Reflect.get(target, key, receiver) as unknown;
    },
  });
  return { items: proxy, read: () => seen.size };
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('Executor: a fan-out takes its plan a few writes at a time', () => {
  it('reads no more Secret writes from the plan than it can have in flight, and returns every result in order', async () => {
    const gated = gatedWriter();
    const executor = new Executor(gated.writer, 4);
    const plan = counted<SecretWrite>(Array.from({ length: 200 }, (_, i) => ({ namespace: `ns-${i}`, kind: 'create' as const })));
    const done = executor.writeSecrets(plan.items, template, false, log);
    await flush();
    expect(gated.inFlight()).toBe(4);
    // Handing all 200 to the pool at once held 200 waiting tasks for the whole fan-out.
    expect(plan.read()).toBeLessThanOrEqual(5);
    gated.release();
    const results = await done;
    expect(results.map((r) => r.namespace)).toEqual(Array.from({ length: 200 }, (_, i) => `ns-${i}`));
    expect(results.every((r) => r.synced)).toBe(true);
    expect(gated.written).toHaveLength(200);
    expect(gated.maxInFlight()).toBe(4);
  });

  it('reads no more ServiceAccount edits than it can have in flight', async () => {
    const gated = gatedWriter();
    const executor = new Executor(gated.writer, 4);
    const edits = counted<AccountEdit>(
      Array.from({ length: 200 }, (_, i) => ({ sa: { namespace: `ns-${i}`, name: 'default', resourceVersion: '1', imagePullSecrets: [] }, add: 'pull', remove: [] })),
    );
    const done = executor.editServiceAccounts(edits.items, log);
    await flush();
    expect(gated.inFlight()).toBe(4);
    expect(edits.read()).toBeLessThanOrEqual(5);
    gated.release();
    const results = await done;
    expect(results.map((r) => r.edit.sa.namespace)).toEqual(Array.from({ length: 200 }, (_, i) => `ns-${i}`));
    expect(results.every((r) => r.carries && !r.failed)).toBe(true);
  });

  it('keeps the writes of two fan-outs at once within one bound, and edits of one ServiceAccount one after the other', async () => {
    const gated = gatedWriter();
    const executor = new Executor(gated.writer, 3);
    const edit = (i: number, secret: string): AccountEdit => ({ sa: { namespace: `ns-${i % 5}`, name: 'default', resourceVersion: '1', imagePullSecrets: [] }, add: secret, remove: [] });
    const first = executor.editServiceAccounts(Array.from({ length: 50 }, (_, i) => edit(i, 'a')), log);
    const second = executor.editServiceAccounts(Array.from({ length: 50 }, (_, i) => edit(i, 'b')), log);
    const secrets = executor.writeSecrets(Array.from({ length: 50 }, (_, i) => ({ namespace: `s-${i}`, kind: 'create' as const })), template, false, log);
    await flush();
    expect(gated.inFlight()).toBe(3);
    gated.release();
    await Promise.all([first, second, secrets]);
    expect(gated.maxInFlight()).toBe(3);
    expect(gated.maxOnOneObject()).toBe(1);
    expect(gated.written.filter((w) => w.startsWith('sa '))).toHaveLength(100);
    expect(gated.written.filter((w) => w.startsWith('secret '))).toHaveLength(50);
  });
});

describe('Executor: no further ahead of the watch than the view allows', () => {
  it('asks before each Secret write and each ServiceAccount edit, and starts none while told to wait', async () => {
    const gated = gatedWriter();
    gated.release();
    let open = false;
    const waiting: (() => void)[] = [];
    let asked = 0;
    const mayWrite = (): Promise<void> => {
      asked++;
      return open ? Promise.resolve() : new Promise<void>((resolve) => waiting.push(resolve));
    };
    const executor = new Executor(gated.writer, 4, undefined, mayWrite);
    const secrets = executor.writeSecrets(Array.from({ length: 10 }, (_, i) => ({ namespace: `ns-${i}`, kind: 'create' as const })), template, false, log);
    const edits = executor.editServiceAccounts(
      Array.from({ length: 3 }, (_, i) => ({ sa: { namespace: `ns-${i}`, name: 'default', resourceVersion: '1', imagePullSecrets: [] }, add: 'pull', remove: [] })),
      log,
    );
    await flush();
    expect(gated.written).toEqual([]);
    expect(asked).toBe(7); // four of each list asked, at most, and none went on
    open = true;
    for (const resolve of waiting.splice(0)) resolve();
    await Promise.all([secrets, edits]);
    expect(gated.written).toHaveLength(13);
    expect(asked).toBe(13);
  });
});
