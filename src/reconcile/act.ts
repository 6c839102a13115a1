/**
 * Act: the only writes of a reconcile. Each function performs what a plan decided and reports what
 * happened; none decides anything a plan could. The writer records every write in the mutation cache
 * itself (src/controller/recording-writer.ts), so no call here has to remember to.
 */
import pLimit from 'p-limit';
import pMap from 'p-map';
import { CREDENTIAL_LABEL, DOCKERCONFIGJSON_TYPE, FINALIZER, MANAGED_BY_LABEL } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import { desiredSecretIn, isCredentialReference, mergeSecretForUpdate, type SecretTemplate, type SecretView } from '../desired/secret.js';
import { serviceAccountPatch, type ServiceAccountView } from '../desired/service-accounts.js';
import { toServiceAccountView } from '../controller/cluster-view.js';
import { isKind, KubeApiError } from '../kube/errors.js';
import type { KubeWriter } from '../kube/writer.js';
import type { Logger } from '../observability/logger.js';
import { accountChange, type AccountEdit } from './plan-service-accounts.js';
import { retryAfterOf } from './contract.js';
import { notAdoptableMessage, unmanagedConflictMessage, type NamespaceResult, type SecretWrite } from './plan-secrets.js';

/** How many times a ServiceAccount edit is redone after a 409 before the reconcile gives up and backs off. */
const SERVICE_ACCOUNT_RETRIES = 5;

/** What an edit asked for, naming its ServiceAccount without holding the version it was planned from. */
export interface EditDone {
  sa: { namespace: string; name: string };
  add?: string;
  remove: string[];
}

export interface AccountResult {
  edit: EditDone;
  /** The ServiceAccount now lists our entry (for an edit that adds one). */
  carries: boolean;
  failed: boolean;
  /** The API server asked to wait this long before trying again (Retry-After). */
  retryAfterMs?: number;
}

export class Executor {
  private readonly pool: ReturnType<typeof pLimit>;
  /** The last edit queued for each ServiceAccount (namespace/name), across all reconciles. */
  private readonly accountTails = new Map<string, Promise<void>>();

  constructor(
    private readonly writer: KubeWriter,
    writeConcurrency: number,
    /** The freshest view of a ServiceAccount: the cache with our own recent writes laid over it. */
    private readonly latestServiceAccount?: (namespace: string, name: string) => ServiceAccountView | undefined,
    /** Resolves when the next write may start: the watches are not too far behind our writes (ClusterView). */
    private readonly mayWrite?: () => Promise<void>,
  ) {
    this.pool = pLimit(writeConcurrency);
  }

  /**
   * `task` for each item, in order, with at most the pool's concurrency of them started and not yet done.
   * The pool bounds the writes in flight across reconciles; this bounds what one fan-out holds while it
   * runs. With every write handed to the pool at once, a fan-out to 20,000 namespaces held 20,000 waiting
   * tasks (promises, closures, queue entries, per-ServiceAccount chains): about 13 MiB of live heap while
   * the Secrets were written and 38 MiB when the ServiceAccount edits began (`npm run perf:heap`), which
   * V8 then grew its heap limit around. A waiting edit of a ServiceAccount another reconcile is editing
   * holds one of these places, never a pool slot.
   */
  private each<T, R>(items: Iterable<T>, task: (item: T) => Promise<R>): Promise<R[]> {
    const mayWrite = this.mayWrite;
    const gated = mayWrite
      ? async (item: T): Promise<R> => {
          await mayWrite();
          return task(item);
        }
      : task;
    return pMap(items, gated, { concurrency: this.pool.concurrency });
  }

  /**
   * Runs edits of one ServiceAccount one after the other, whichever credentials' reconciles they come from:
   * with ten credentials on the same default ServiceAccounts, their patches (each conditional on the
   * resourceVersion) would otherwise race each other, and every loser pays a 409, a GET and another patch.
   * Waiting edits hold no write slot.
   */
  private oneAtATime<T>(key: string, task: () => Promise<T>): Promise<T> {
    const previous = this.accountTails.get(key) ?? Promise.resolve();
    const run = previous.then(task);
    const tail = run.then(
      () => undefined,
      () => undefined,
    );
    this.accountTails.set(key, tail);
    void tail.then(() => {
      if (this.accountTails.get(key) === tail) this.accountTails.delete(key);
    });
    return run;
  }

  async addFinalizer(credential: RegistryCredential): Promise<'added' | 'gone'> {
    try {
      await this.writer.patchCredential(credential.metadata.name, {
        metadata: { resourceVersion: credential.metadata.resourceVersion, finalizers: [...(credential.metadata.finalizers ?? []), FINALIZER] },
      });
      return 'added';
    } catch (err) {
      // Deleted meanwhile: its delete event brings the next reconcile.
      if (isKind(err, 'NotFound')) return 'gone';
      throw err;
    }
  }

  async removeFinalizer(credential: RegistryCredential): Promise<void> {
    await this.writer
      .patchCredential(credential.metadata.name, {
        metadata: { resourceVersion: credential.metadata.resourceVersion, finalizers: (credential.metadata.finalizers ?? []).filter((f) => f !== FINALIZER) },
      })
      .catch((err: unknown) => {
        if (!isKind(err, 'NotFound')) throw err;
      });
  }

  /**
   * One result per write, in the order given, with at most writeConcurrency in flight. Takes the writes
   * out of `writes` as it starts them (the array is left empty): an update holds the version of the Secret
   * it replaces, and a list kept whole until the last write would keep every one of them alive that long.
   */
  writeSecrets(writes: SecretWrite[], template: SecretTemplate, adopt: boolean, log: Logger): Promise<NamespaceResult[]> {
    return this.each(takeEach(writes), (write) => this.pool(() => this.writeSecret(write, template, adopt, log)));
  }

  private async writeSecret(write: SecretWrite, template: SecretTemplate, adopt: boolean, log: Logger): Promise<NamespaceResult> {
    const { namespace } = write;
    const desired = desiredSecretIn(template, namespace);
    try {
      if (write.kind === 'create') {
        try {
          await this.writer.createSecret(desired);
        } catch (err) {
          if (!isKind(err, 'AlreadyExists')) throw err;
          // Not in our label-selected cache, so not ours: never read, changed or deleted, unless adoption is asked for.
          return adopt ? await this.adopt(namespace, template, log) : unmanaged(namespace, template.metadata.name);
        }
        log.debug({ namespace }, 'secret created');
        return { namespace, synced: true };
      }
      if (write.kind === 'replace') {
        // `type` is immutable: delete (only this object, by uid) and create.
        await this.writer.deleteSecret(namespace, template.metadata.name, write.existing.metadata.uid ?? '');
        await this.writer.createSecret(desired);
      } else {
        await this.writer.replaceSecret(mergeSecretForUpdate(write.existing, desired));
      }
      log.debug({ namespace }, 'secret updated');
      return { namespace, synced: true, existed: true };
    } catch (err) {
      return secretWriteFailure(namespace, template.metadata.name, err, log);
    }
  }

  /** spec.adoptExisting: take over an unmanaged Secret of our name if, and only if, it is a dockerconfigjson one. */
  private async adopt(namespace: string, template: SecretTemplate, log: Logger): Promise<NamespaceResult> {
    const name = template.metadata.name;
    const existing = (await this.writer.getSecret(namespace, name)) as SecretView;
    const labels = existing.metadata.labels ?? {};
    if (labels[MANAGED_BY_LABEL] !== undefined || labels[CREDENTIAL_LABEL] !== undefined) {
      // Labelled since our create failed: the next reconcile sees it in the cache and reports it as it is.
      return { namespace, synced: false, retry: true, failure: { namespace, reason: 'SecretConflict', message: unmanagedConflictMessage(name, namespace) } };
    }
    if (existing.type !== DOCKERCONFIGJSON_TYPE) {
      return { namespace, synced: false, metUnmanaged: true, failure: { namespace, reason: 'SecretConflict', message: notAdoptableMessage(name, namespace, existing.type) } };
    }
    await this.writer.replaceSecret(mergeSecretForUpdate(existing, desiredSecretIn(template, namespace)));
    log.info({ namespace, secret: name }, 'adopted an existing Secret');
    return { namespace, synced: true, adopted: true };
  }

  /** Read-modify-write with a resourceVersion precondition: on 409 re-read and recompute, so a concurrent writer's entries are never lost. */
  /**
   * One result per edit, in the order given. Like writeSecrets, takes the edits out of `edits` as it starts
   * them, and a result names its ServiceAccount instead of holding the version the edit was planned from:
   * a fan-out's results last until the reconcile ends, and would keep every replaced ServiceAccount alive.
   */
  editServiceAccounts(edits: AccountEdit[], log: Logger): Promise<AccountResult[]> {
    return this.each(takeEach(edits), (edit) => this.oneAtATime(`${edit.sa.namespace}/${edit.sa.name}`, () => this.pool(() => this.editServiceAccount(edit, log))));
  }

  private async editServiceAccount(planned: AccountEdit, log: Logger): Promise<AccountResult> {
    const edit: EditDone = { sa: { namespace: planned.sa.namespace, name: planned.sa.name }, ...(planned.add !== undefined ? { add: planned.add } : {}), remove: planned.remove };
    const wantsEntry = edit.add !== undefined;
    // An edit that waited for another credential's sees what that one wrote (the write is in the view).
    let sa: ServiceAccountView = this.latestServiceAccount?.(edit.sa.namespace, edit.sa.name) ?? planned.sa;
    for (let attempt = 0; attempt <= SERVICE_ACCOUNT_RETRIES; attempt++) {
      const change = accountChange(sa, edit);
      if (!change) return { edit, carries: wantsEntry, failed: false };
      try {
        await this.writer.patchServiceAccount(sa.namespace, sa.name, serviceAccountPatch(sa, change));
        log.debug({ namespace: sa.namespace, serviceAccount: sa.name, added: edit.add, removed: edit.remove }, 'serviceaccount updated');
        return { edit, carries: wantsEntry, failed: false };
      } catch (err) {
        if (isKind(err, 'NotFound')) return { edit, carries: false, failed: false };
        if (!isKind(err, 'Conflict')) {
          log.warn({ namespace: sa.namespace, serviceAccount: sa.name, err: (err as Error).message }, 'serviceaccount update failed');
          const wait = retryAfterOf(err);
          return { edit, carries: false, failed: true, ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
        }
        try {
          sa = toServiceAccountView(await this.writer.getServiceAccount(sa.namespace, sa.name));
        } catch (readErr) {
          return { edit, carries: false, failed: !isKind(readErr, 'NotFound') };
        }
      }
    }
    log.warn({ namespace: sa.namespace, serviceAccount: sa.name }, 'serviceaccount kept changing; will retry');
    return { edit, carries: false, failed: true };
  }

  async deleteSecrets(secrets: readonly SecretView[], log: Logger): Promise<void> {
    await this.each(secrets, (s) => this.pool(() => this.deleteSecret(s, log)));
  }

  private async deleteSecret(secret: SecretView, log: Logger): Promise<void> {
    const { namespace, name } = secret.metadata;
    try {
      await this.writer.deleteSecret(namespace, name, secret.metadata.uid ?? '');
      log.debug({ namespace, secret: name }, 'secret deleted');
    } catch (err) {
      // Replaced by a newer object (uid precondition): not the one we meant; the cache will show it.
      if (isKind(err, 'Conflict', 'NotFound')) return;
      throw err;
    }
  }

  /** deletionPolicy Orphan: keep the Secrets, drop our ownerReference so the garbage collector leaves them. */
  async orphanSecrets(secrets: readonly SecretView[]): Promise<void> {
    await this.each(secrets, (secret) =>
      this.pool(async () => {
        const owners = secret.metadata.ownerReferences ?? [];
        const kept = owners.filter((ref) => !isCredentialReference(ref));
        if (kept.length === owners.length) return;
        await this.writer.replaceSecret({ ...secret, metadata: { ...secret.metadata, ownerReferences: kept } });
      }),
    );
  }
}

function unmanaged(namespace: string, secretName: string): NamespaceResult {
  return { namespace, synced: false, metUnmanaged: true, failure: { namespace, reason: 'SecretConflict', message: unmanagedConflictMessage(secretName, namespace) } };
}

function secretWriteFailure(namespace: string, secretName: string, err: unknown, log: Logger): NamespaceResult {
  const fail = (reason: string, message: string, retry: boolean): NamespaceResult => ({ namespace, synced: false, failure: { namespace, reason, message }, retry });
  const message = (err as Error).message;
  if (isKind(err, 'Forbidden') && /being terminated/.test(message)) return fail('NamespaceTerminating', `namespace ${namespace} is being deleted`, false);
  if (isKind(err, 'NotFound') && /namespaces? .*not found/i.test(message)) return fail('NamespaceGone', `namespace ${namespace} no longer exists`, false);
  if (isKind(err, 'Invalid')) {
    // Retrying the same write cannot help: it waits for the spec (or the namespace) to change.
    return fail('WriteRejected', `the API server rejected Secret ${secretName} in ${namespace}: ${message}; the same write is not retried until the spec, its source Secret or the namespace changes`, false);
  }
  log.warn({ namespace, err: message }, 'secret write failed');
  const kind = err instanceof KubeApiError ? err.kind : 'Unknown';
  const wait = retryAfterOf(err);
  return { ...fail(kind === 'Conflict' ? 'WriteConflict' : 'WriteFailed', message, true), ...(wait !== undefined ? { retryAfterMs: wait } : {}) };
}

/** The items of `items` in order, each let go by the array as it is handed out; the array ends empty. */
export function* takeEach<T>(items: T[]): Generator<T> {
  const count = items.length;
  for (let i = 0; i < count; i++) {
    const item = items[i] as T;
    (items as (T | undefined)[])[i] = undefined;
    yield item;
  }
  items.length = 0;
}
