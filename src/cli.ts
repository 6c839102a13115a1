#!/usr/bin/env node
// The `regcred` command. This entry imports nothing but the version check, so that an older Node.js
// gets one line saying what to do instead of a TypeError from deep inside a dependency; the commands
// (src/commands.ts) and everything they load come after it.
import { nodeVersionProblem } from './node-version.js';

const problem = nodeVersionProblem(process.versions.node);
if (problem !== undefined) {
  process.stderr.write(`${problem}\n`);
  process.exit(1);
}
const { runCli } = await import('./commands.js');
await runCli(process.argv);
