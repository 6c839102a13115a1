import { apiServerProblem, explainApiServerProblem, type ApiServerProblemKind } from '../kube/reachability.js';
import type { Logger } from '../observability/logger.js';

/** While a problem lasts, it is said again this often, so that a log read hours later still shows it. */
export const REMIND_EVERY_MS = 5 * 60_000;

interface Said {
  kind: ApiServerProblemKind;
  since: number;
  lastSaidAt: number;
}

/**
 * Says, at error level, why the informers cannot list or watch when the reason is the API server
 * itself (unreachable, not answering, untrusted certificate, expired credentials, missing RBAC), naming
 * the server and what to check, instead of five informers each repeating "watch failed" on every
 * retry. Shared by the operator's informers, which keep retrying whatever is said here.
 *
 * A problem of the whole server (all but `forbidden`) is said once until some informer gets through,
 * again when it turns into another kind (refused, then a certificate error), and every
 * REMIND_EVERY_MS while it lasts. A 403 is about one informer's resource, so it is said per informer.
 * A dropped connection is routine once (the API server restarting, an HTTP/2 GOAWAY beside a 401): it
 * is said only when an informer's start fails that way twice in a row and nothing else is being said.
 */
export class ApiServerReport {
  #serverWide: Said | undefined;
  readonly #forbidden = new Map<string, Said>();

  constructor(
    /** KubeConnection.describe: "https://10.0.0.1:6443 (context prod)". */
    private readonly server: string,
    private readonly log: Logger,
    private readonly now: () => number,
  ) {}

  /**
   * An informer could not list or start its watch. Returns true when the cause is one this report
   * speaks for (so the informer's own line can be a debug one); false for any other failure.
   */
  failed(informer: string, err: unknown, retryInMs: number, failuresInARow: number): boolean {
    const problem = apiServerProblem(err);
    if (problem === undefined) return false;
    if (problem.kind === 'dropped') {
      if (this.#serverWide !== undefined) return true;
      if (failuresInARow < 2) return false;
    }
    const now = this.now();
    const said = problem.kind === 'forbidden' ? this.#forbidden.get(informer) : this.#serverWide;
    if (said?.kind === problem.kind && now - said.lastSaidAt < REMIND_EVERY_MS) return true;
    const since = said?.kind === problem.kind ? said.since : now;
    const next: Said = { kind: problem.kind, since, lastSaidAt: now };
    if (problem.kind === 'forbidden') this.#forbidden.set(informer, next);
    else this.#serverWide = next;
    const message = explainApiServerProblem(problem, this.server, `list and watch ${informer}`);
    const fields = { server: this.server, informer, problem: problem.kind, err: problem.detail, retryInMs, ...(now > since ? { forMs: now - since } : {}) };
    this.log.error(fields, `${message.replace(/[.\s]+$/, '')}; retrying`);
    return true;
  }

  /** An informer listed or started its watch: the server answers it. */
  answered(informer: string): void {
    const now = this.now();
    const forbidden = this.#forbidden.get(informer);
    if (forbidden) {
      this.#forbidden.delete(informer);
      this.log.info({ server: this.server, informer, forMs: now - forbidden.since }, 'the API server lets this informer list and watch again');
    }
    const serverWide = this.#serverWide;
    if (serverWide === undefined) return;
    this.#serverWide = undefined;
    this.log.info({ server: this.server, informer, problem: serverWide.kind, forMs: now - serverWide.since }, 'the API server answers again');
  }
}
