/**
 * The Node.js version check the command line makes before it loads anything else. It imports nothing:
 * under an older Node, @kubernetes/client-node's undici dies on import with a TypeError that says
 * nothing about versions, so src/cli.ts runs this first.
 */

/** The oldest Node.js that runs regcred; package.json's engines.node is ">=" this (test/unit/node-version.test.ts). */
export const REQUIRED_NODE = '22.19.0';

function parts(version: string): number[] {
  return version
    .replace(/^v/, '')
    .split(/[.+-]/)
    .slice(0, 3)
    .map((p) => Number.parseInt(p, 10) || 0);
}

/** True when `found` (process.versions.node, e.g. "20.20.2") is at least `required`. */
export function satisfiesNode(found: string, required: string = REQUIRED_NODE): boolean {
  const have = parts(found);
  const need = parts(required);
  for (let i = 0; i < 3; i++) {
    const h = have[i] ?? 0;
    const n = need[i] ?? 0;
    if (h !== n) return h > n;
  }
  return true;
}

/** The one line to print when this Node is too old, or undefined when it will do. */
export function nodeVersionProblem(found: string, required: string = REQUIRED_NODE): string | undefined {
  if (satisfiesNode(found, required)) return undefined;
  const [major = 0, minor = 0, patch = 0] = parts(required);
  const shown = patch === 0 ? `${major}.${minor}` : `${major}.${minor}.${patch}`;
  return (
    `regcred: Node.js ${shown} or newer is needed (this is ${found.replace(/^v/, '')}): ` +
    `run it through npm (npm start / npx regcred use the Node ${major} from the 'node' devDependency, also at node_modules/.bin/node), ` +
    `or install Node ${major} (https://nodejs.org)`
  );
}
