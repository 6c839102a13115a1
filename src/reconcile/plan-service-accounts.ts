/**
 * Decide which ServiceAccounts gain or lose our imagePullSecrets entry, and which of our Secrets may go.
 * Pure: reads only the snapshot. An entry is removed only where our annotation records that we added it
 * (src/desired/service-accounts.ts), and a stale Secret is deleted only after the entries naming it are
 * gone: the Secret is the record that we used that name there, so deleting it first would orphan them.
 */
import { CREDENTIAL_LABEL, DEFAULT_SERVICE_ACCOUNTS } from '../api/constants.js';
import type { SecretView } from '../desired/secret.js';
import {
  addPullSecret,
  addedPullSecrets,
  applyPullSecretChange,
  removePullSecret,
  selectServiceAccounts,
  type PullSecretChange,
  type ServiceAccountView,
} from '../desired/service-accounts.js';
import type { Snapshot } from './gather.js';

/** What one ServiceAccount needs: our entry added (`add`), entries of ours removed (`remove`). */
export interface AccountEdit {
  sa: ServiceAccountView;
  add?: string;
  remove: string[];
}

export interface AccountPlan {
  edits: AccountEdit[];
  /** Synced namespace → its selected ServiceAccounts that already carry the entry (absent: none). */
  carrying: Map<string, number>;
  /** Synced namespaces where no selected ServiceAccount exists yet. */
  missingServiceAccounts: Set<string>;
  /** Our Secrets no longer wanted (namespace no longer targeted, or an old secretName). */
  staleSecrets: SecretView[];
}

/** The change an edit makes to the ServiceAccount as it is now (null: nothing to change). */
export function accountChange(sa: ServiceAccountView, edit: Pick<AccountEdit, 'add' | 'remove'>): PullSecretChange | null {
  let view = sa;
  let change: PullSecretChange | null = null;
  for (const name of edit.remove) {
    const removal = removePullSecret(view, name);
    if (removal) view = applyPullSecretChange(view, (change = removal));
  }
  if (edit.add !== undefined) {
    const addition = addPullSecret(view, edit.add);
    if (addition) change = addition;
  }
  return change;
}

class Edits {
  private readonly byAccount = new Map<string, AccountEdit>();

  private of(sa: ServiceAccountView): AccountEdit {
    const key = `${sa.namespace}/${sa.name}`;
    let edit = this.byAccount.get(key);
    if (!edit) this.byAccount.set(key, (edit = { sa, remove: [] }));
    return edit;
  }

  add(sa: ServiceAccountView, name: string): void {
    this.of(sa).add = name;
  }

  remove(sa: ServiceAccountView, name: string): void {
    const edit = this.of(sa);
    if (!edit.remove.includes(name)) edit.remove.push(name);
  }

  list(): AccountEdit[] {
    return [...this.byAccount.values()].filter((edit) => accountChange(edit.sa, edit) !== null);
  }
}

/** Whether the entry `name` on a ServiceAccount in `namespace` is another credential's (its Secret is there). */
function othersEntry(snapshot: Snapshot, namespace: string, name: string): boolean {
  const owner = snapshot.secretOwner(namespace, name);
  return owner !== undefined && owner !== snapshot.name;
}

/**
 * `synced`: namespaces where our current Secret is in place after this reconcile's writes. Selected
 * ServiceAccounts there get the entry; every entry of ours anywhere else, and under any old name, goes.
 */
export function planServiceAccounts(snapshot: Snapshot, synced: ReadonlySet<string>): AccountPlan {
  const { secretName } = snapshot;
  const selection = snapshot.credential.spec.serviceAccounts?.names;
  const selectsAny = (selection ?? DEFAULT_SERVICE_ACCOUNTS).length > 0;
  const targets = new Set(snapshot.targets);
  const edits = new Edits();
  const carrying = new Map<string, number>();
  const missingServiceAccounts = new Set<string>();

  for (const namespace of synced) {
    const accounts = snapshot.serviceAccountsIn(namespace);
    const selected = selectServiceAccounts(selection, [...accounts]);
    if (selected.length === 0 && selectsAny) missingServiceAccounts.add(namespace);
    const selectedNames = new Set(selected.map((sa) => sa.name));
    for (const sa of accounts) {
      if (selectedNames.has(sa.name)) {
        if (addPullSecret(sa, secretName)) edits.add(sa, secretName);
        else carrying.set(namespace, (carrying.get(namespace) ?? 0) + 1);
      } else if (addedPullSecrets(sa).includes(secretName)) {
        edits.remove(sa, secretName);
      }
    }
  }

  // Entries we added in namespaces that are no longer targeted, or that lost our Secret.
  for (const sa of snapshot.serviceAccountsOutside(synced)) {
    if (!addedPullSecrets(sa).includes(secretName)) continue;
    // A target whose Secret is still ours but could not be brought up to date this time keeps its entry.
    const stillOurs = targets.has(sa.namespace) && snapshot.existing.get(sa.namespace)?.metadata.labels?.[CREDENTIAL_LABEL] === snapshot.name;
    if (stillOurs || othersEntry(snapshot, sa.namespace, secretName)) continue;
    edits.remove(sa, secretName);
  }

  // Entries under an old secretName: wherever one of our Secrets of that name still is.
  const staleSecrets = snapshot.ours.filter((s) => !targets.has(s.metadata.namespace) || s.metadata.name !== secretName);
  for (const secret of staleSecrets) {
    const oldName = secret.metadata.name;
    if (oldName === secretName) continue;
    for (const sa of snapshot.serviceAccountsIn(secret.metadata.namespace)) {
      if (addedPullSecrets(sa).includes(oldName)) edits.remove(sa, oldName);
    }
  }
  return { edits: edits.list(), carrying, missingServiceAccounts, staleSecrets };
}

/** Deletion with deletionPolicy Delete: every entry of ours under any of our names, then every Secret of ours. */
export function planCleanup(snapshot: Snapshot): { edits: AccountEdit[]; secrets: SecretView[] } {
  const names = new Set([snapshot.secretName, ...snapshot.ours.map((s) => s.metadata.name)]);
  const edits = new Edits();
  for (const sa of snapshot.serviceAccountsOutside(new Set())) {
    for (const name of addedPullSecrets(sa)) {
      if (names.has(name) && !othersEntry(snapshot, sa.namespace, name)) edits.remove(sa, name);
    }
  }
  return { edits: edits.list(), secrets: [...snapshot.ours] };
}

/** A stale Secret may go once no edit removing an entry that names it has failed. */
export function deletableSecrets(stale: readonly SecretView[], failedRemovals: ReadonlySet<string>): SecretView[] {
  return stale.filter((s) => !failedRemovals.has(`${s.metadata.namespace}/${s.metadata.name}`));
}
