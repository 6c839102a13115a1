import { describe, expect, it } from '@jest/globals';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { REQUIRED_NODE, nodeVersionProblem, satisfiesNode } from '../../src/node-version.js';

const PACKAGE = JSON.parse(readFileSync(resolve(import.meta.dirname, '..', '..', 'package.json'), 'utf8')) as {
  engines: { node: string };
  devDependencies: { node: string };
};

describe('the Node.js version check of src/cli.ts', () => {
  it("is package.json's engines.node", () => {
    expect(PACKAGE.engines.node).toBe(`>=${REQUIRED_NODE}`);
  });

  it("the 'node' devDependency that npm scripts run satisfies it", () => {
    expect(satisfiesNode(PACKAGE.devDependencies.node.replace(/^[\^~]/, ''))).toBe(true);
  });

  it('this Node (the tests run on the one npm scripts use) satisfies it', () => {
    expect(nodeVersionProblem(process.versions.node)).toBeUndefined();
  });

  it.each([
    ['22.19.0', true],
    ['22.19.1', true],
    ['22.23.3', true],
    ['23.0.0', true],
    ['24.11.1', true],
    ['v22.19.0', true],
    ['22.18.9', false],
    ['22.0.0', false],
    ['21.99.0', false],
    ['20.20.2', false],
    ['18.19.1', false],
  ])('%s: %s', (version, ok) => {
    expect(satisfiesNode(version, '22.19.0')).toBe(ok);
  });

  it('says in one line which version is needed, which this is, and how to get it', () => {
    expect(nodeVersionProblem('20.20.2', '22.19.0')).toBe(
      "regcred: Node.js 22.19 or newer is needed (this is 20.20.2): run it through npm (npm start / npx regcred use the Node 22 from the 'node' devDependency, also at node_modules/.bin/node), or install Node 22 (https://nodejs.org)",
    );
    expect(nodeVersionProblem('22.18.0', '22.19.1')).toMatch(/^regcred: Node\.js 22\.19\.1 or newer is needed \(this is 22\.18\.0\): /);
    expect(nodeVersionProblem('20.20.2')).not.toContain('\n');
  });
});
