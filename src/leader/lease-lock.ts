/**
 * The lock leader election holds: a coordination.k8s.io/v1 Lease, read and written as client-go's
 * resourcelock.LeaseLock does. The lock keeps the Lease it read or wrote last, and an update replaces
 * exactly that version (metadata.resourceVersion is the precondition): of two replicas that read the
 * same expired Lease and both try to take it, one gets a 409 Conflict.
 */
import { CoordinationV1Api, type KubeConfig, type V1Lease, type V1MicroTime } from '@kubernetes/client-node';
import { call } from '../kube/errors.js';

/** What the Lease's spec says about who leads (client-go's LeaderElectionRecord). */
export interface LeaderElectionRecord {
  /** Empty: nobody holds the lease (released), anyone may take it at once. */
  holderIdentity: string;
  leaseDurationSeconds: number;
  /** Wall-clock times, for people and for the record; the election never compares them across processes. */
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions: number;
}

export interface LeaseLock {
  /** "regcred-system/regcred-operator", for log lines. */
  readonly describe: string;
  /** The current record, or undefined when the Lease does not exist (other errors are thrown). */
  get(): Promise<LeaderElectionRecord | undefined>;
  /** Creates the Lease; someone else creating it first is an AlreadyExists error. */
  create(record: LeaderElectionRecord): Promise<void>;
  /** Replaces the Lease last read or written, guarded by its resourceVersion: a Conflict means someone else wrote since. */
  update(record: LeaderElectionRecord): Promise<void>;
}

/**
 * A MicroTime as the API server requires it: RFC 3339 with exactly six fractional digits. It refuses
 * the three digits of Date.toISOString ("…05.123Z") for a MicroTime field; client-node's own V1MicroTime
 * pads the same way, but only when the object passes through JSON.stringify as a Date.
 */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

/** client-node types MicroTime fields as V1MicroTime but hands back the string it received. */
function timeText(value: unknown): string | undefined {
  if (value instanceof Date) return microTime(value.getTime());
  return typeof value === 'string' && value !== '' ? value : undefined;
}

export function recordOf(lease: V1Lease): LeaderElectionRecord {
  const spec = lease.spec ?? {};
  return {
    holderIdentity: spec.holderIdentity ?? '',
    leaseDurationSeconds: spec.leaseDurationSeconds ?? 0,
    acquireTime: timeText(spec.acquireTime),
    renewTime: timeText(spec.renewTime),
    leaseTransitions: spec.leaseTransitions ?? 0,
  };
}

function specOf(record: LeaderElectionRecord): V1Lease['spec'] {
  return {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    // A string on the wire either way; the cast only satisfies client-node's type.
    acquireTime: record.acquireTime as unknown as V1MicroTime,
    renewTime: record.renewTime as unknown as V1MicroTime,
    leaseTransitions: record.leaseTransitions,
  };
}

export function kubeLeaseLock(kubeConfig: KubeConfig, namespace: string, name: string): LeaseLock {
  const api = kubeConfig.makeApiClient(CoordinationV1Api);
  const describe = `${namespace}/${name}`;
  let last: V1Lease | undefined;
  return {
    describe,
    async get() {
      try {
        last = await call(`get Lease ${describe}`, () => api.readNamespacedLease({ namespace, name }));
      } catch (err) {
        if ((err as { kind?: string }).kind === 'NotFound') return undefined;
        throw err;
      }
      return recordOf(last);
    },
    async create(record) {
      const body: V1Lease = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { namespace, name }, spec: specOf(record) };
      last = await call(`create Lease ${describe}`, () => api.createNamespacedLease({ namespace, body }));
    },
    async update(record) {
      const current = last;
      if (!current) throw new Error(`update Lease ${describe}: the Lease was never read`);
      const body: V1Lease = { ...current, spec: specOf(record) };
      last = await call(`update Lease ${describe}`, () => api.replaceNamespacedLease({ namespace, name, body }));
    },
  };
}
