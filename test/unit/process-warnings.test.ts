import { afterEach, describe, expect, it } from '@jest/globals';
import { EventEmitter } from 'node:events';
import { Writable } from 'node:stream';
import { createLogger } from '../../src/observability/logger.js';
import { logProcessWarnings } from '../../src/observability/process-warnings.js';

function capture(): { log: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const log = createLogger({ level: 'info', pretty: false, destination });
  return {
    log,
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

/** A stand-in for `process` with Node's own printer installed, as at start-up. */
function fakeProcess(): { target: NodeJS.Process; printed: Error[] } {
  const printed: Error[] = [];
  const target = new EventEmitter() as unknown as NodeJS.Process;
  target.on('warning', (w: Error) => printed.push(w));
  return { target, printed };
}

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

describe('logProcessWarnings', () => {
  it('logs a library warning as one warn line with its name and message, and nothing else prints it', () => {
    const { log, lines } = capture();
    const { target, printed } = fakeProcess();
    restore = logProcessWarnings(log, target);
    const warning = Object.assign(new Error('received unexpected error = socket hang up code = ECONNRESET'), { name: 'MetadataLookupWarning' });
    target.emit('warning', warning);
    expect(lines()).toEqual([
      expect.objectContaining({
        level: 'warn',
        warning: 'MetadataLookupWarning',
        msg: 'MetadataLookupWarning: received unexpected error = socket hang up code = ECONNRESET',
      }),
    ]);
    expect(printed).toEqual([]);
  });

  it('keeps the code of a deprecation', () => {
    const { log, lines } = capture();
    const { target } = fakeProcess();
    restore = logProcessWarnings(log, target);
    target.emit('warning', Object.assign(new Error('Buffer() is deprecated'), { name: 'DeprecationWarning', code: 'DEP0005' }));
    expect(lines()[0]).toMatchObject({ level: 'warn', warning: 'DeprecationWarning', code: 'DEP0005', msg: 'DeprecationWarning: Buffer() is deprecated' });
  });

  it('puts the previous listeners back when undone', () => {
    const { log, lines } = capture();
    const { target, printed } = fakeProcess();
    logProcessWarnings(log, target)();
    target.emit('warning', new Error('later'));
    expect(printed).toHaveLength(1);
    expect(lines()).toEqual([]);
  });

});
