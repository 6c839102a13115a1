import { KubeApiError } from '../../src/kube/errors.js';
import type { LeaderElectionRecord, LeaseLock } from '../../src/leader/lease-lock.js';

/**
 * One Lease as the API server keeps it, in memory: every write bumps resourceVersion, a replace with a
 * stale resourceVersion is a 409 Conflict, a second create a 409 AlreadyExists. Each replica gets a lock
 * of its own (`lockFor`), which, like the real one, remembers the version it read or wrote last.
 */
export class MemoryLease {
  stored: { record: LeaderElectionRecord; resourceVersion: number } | undefined;
  #version = 0;
  /** Writes that went through, in order: who wrote what. */
  readonly writes: { by: string; record: LeaderElectionRecord }[] = [];

  lockFor(replica: string): LeaseLock & { unreachable: boolean } {
    let last: number | undefined;
    const write = (record: LeaderElectionRecord): number => this.#write(replica, record);
    const stored = (): MemoryLease['stored'] => this.stored;
    const reach = (what: string): void => {
      if (lock.unreachable) throw new KubeApiError('Transient', undefined, `${what}: connect ECONNREFUSED`);
    };
    const lock = {
      describe: 'regcred-system/regcred-operator',
      unreachable: false,
      async get(): Promise<LeaderElectionRecord | undefined> {
        await Promise.resolve();
        reach('get Lease');
        // The real lock reports a missing Lease (404) as undefined.
        const current = stored();
        if (!current) return undefined;
        last = current.resourceVersion;
        return structuredClone(current.record);
      },
      async create(record: LeaderElectionRecord) {
        await Promise.resolve();
        reach('create Lease');
        if (stored()) throw new KubeApiError('AlreadyExists', 409, 'create Lease: HTTP 409 already exists');
        last = write(record);
      },
      async update(record: LeaderElectionRecord) {
        await Promise.resolve();
        reach('update Lease');
        const current = stored();
        if (last === undefined || !current) throw new Error('update before get');
        if (current.resourceVersion !== last) throw new KubeApiError('Conflict', 409, 'update Lease: HTTP 409 the object has been modified');
        last = write(record);
      },
    };
    return lock;
  }

  get record(): LeaderElectionRecord | undefined {
    return this.stored?.record;
  }

  #write(by: string, record: LeaderElectionRecord): number {
    this.#version += 1;
    this.stored = { record: structuredClone(record), resourceVersion: this.#version };
    this.writes.push({ by, record: structuredClone(record) });
    return this.#version;
  }
}
