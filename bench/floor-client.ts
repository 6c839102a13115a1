/**
 * The floor client of the fan-out scenario, as a process of its own: one Secret create and one
 * ServiceAccount merge patch per namespace, `concurrency` namespaces at a time, as the operator's identity.
 * It runs apart from the benchmark process, as the operator does, so that the benchmark's watches
 * following its writes do not share its event loop. Started by bench/scenarios/fanout.ts:
 *
 *   FLOOR_DOCKERCONFIGJSON=<base64> node floor-client.js KUBECONFIG CONTEXT SECRET_NAME CONCURRENCY NAMESPACES_FILE
 *
 * Loaded and connected, it prints `ready` and waits for a line on stdin (the benchmark starts its clock
 * and its watches, as it does for an operator already running and synced), then writes and prints one
 * JSON line: { "ms": when its last write returned, "cpuS": its own CPU seconds }; or exits 1 with the error.
 */
import { readFileSync } from 'node:fs';
import { once } from 'node:events';
import { clients, forEachLimited, MERGE_PATCH } from './lib/kube.js';

const [kubeconfig, context, secretName, concurrencyArg, namespacesFile] = process.argv.slice(2);
const body = process.env.FLOOR_DOCKERCONFIGJSON;
if (!kubeconfig || !context || !secretName || !concurrencyArg || !namespacesFile || !body) {
  console.error('usage: FLOOR_DOCKERCONFIGJSON=<base64> node floor-client.js KUBECONFIG CONTEXT SECRET_NAME CONCURRENCY NAMESPACES_FILE');
  process.exit(2);
}
const namespaces = readFileSync(namespacesFile, 'utf8').split('\n').filter(Boolean);
const { core } = clients(kubeconfig, context);
console.log('ready');
await once(process.stdin, 'data');
const cpuBefore = process.cpuUsage();
const started = Date.now();
try {
  await forEachLimited(namespaces, Number(concurrencyArg), async (namespace) => {
    await core.createNamespacedSecret({ namespace, body: { metadata: { name: secretName }, type: 'kubernetes.io/dockerconfigjson', data: { '.dockerconfigjson': body } } });
    await core.patchNamespacedServiceAccount({ namespace, name: 'default', body: { imagePullSecrets: [{ name: secretName }] } }, MERGE_PATCH);
  });
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
const used = process.cpuUsage(cpuBefore);
console.log(JSON.stringify({ ms: Date.now() - started, cpuS: (used.user + used.system) / 1e6 }));
process.exit(0);
