import { describe, expect, it } from '@jest/globals';
import { join } from 'node:path';
import { displayPath, formatSeconds } from '../../src/local/control-plane.js';

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
