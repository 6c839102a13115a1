/**
 * A validating admission webhook served by the test process, so that a test can act at the exact moment a
 * request is inside the API server: between the moment its precondition was checked and the moment it is
 * stored. What the handler does then (a write of its own, say) lands before the request being admitted,
 * which is how a test makes a race that timing alone only makes likely.
 *
 * The API server calls webhooks over HTTPS only: the certificate is a throwaway self-signed one for
 * 127.0.0.1, made with the openssl command (Debian's openssl, which ca-certificates depends on).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kubectl } from './cluster.js';

/** The part of an admission.k8s.io/v1 AdmissionRequest the tests read. */
export interface AdmissionRequest {
  uid: string;
  operation: string;
  namespace?: string;
  name?: string;
  resource: { group: string; version: string; resource: string };
  userInfo: { username: string };
}

export interface AdmissionWebhook {
  /** Every request the API server sent, in the order they arrived. */
  readonly requests: AdmissionRequest[];
  /** Registers a ValidatingWebhookConfiguration for these rules; failurePolicy Ignore, so a stopped server blocks nothing. */
  register(options: { rules: object[]; namespaceSelector?: object }): Promise<void>;
  /** Removes the configuration (if registered), then stops the server. */
  stop(): Promise<void>;
}

function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(join(tmpdir(), 'regcred-webhook-'));
  try {
    execFileSync(
      'openssl',
      [
        'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
        '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1',
        '-subj', '/CN=regcred-test-webhook', '-addext', 'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('openssl is not installed: apt-get install openssl', { cause: err });
    throw err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Starts the webhook server on a free loopback port. `admit` runs for each request before the answer,
 * which is always "allowed": a webhook here only ever acts, it never refuses.
 */
export async function startAdmissionWebhook(name: string, admit: (request: AdmissionRequest) => Promise<void> | void): Promise<AdmissionWebhook> {
  const { key, cert } = selfSignedCertificate();
  const requests: AdmissionRequest[] = [];
  const server: Server = createServer({ key, cert }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { request: AdmissionRequest };
      requests.push(review.request);
      const answer = (): void => {
        res
          .writeHead(200, { 'content-type': 'application/json' })
          .end(JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', response: { uid: review.request.uid, allowed: true } }));
      };
      Promise.resolve()
        .then(() => admit(review.request))
        .then(answer, (err: unknown) => {
          process.stderr.write(`[webhook ${name}] handler failed: ${err instanceof Error ? err.message : String(err)}\n`);
          answer();
        });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let registered = false;
  return {
    requests,
    async register({ rules, namespaceSelector }) {
      const configuration = {
        apiVersion: 'admissionregistration.k8s.io/v1',
        kind: 'ValidatingWebhookConfiguration',
        metadata: { name },
        webhooks: [
          {
            name: `${name}.test.regcred.io`,
            admissionReviewVersions: ['v1'],
            sideEffects: 'NoneOnDryRun',
            failurePolicy: 'Ignore',
            timeoutSeconds: 10,
            clientConfig: { url: `https://127.0.0.1:${port}/`, caBundle: cert.toString('base64') },
            rules,
            ...(namespaceSelector ? { namespaceSelector } : {}),
          },
        ],
      };
      const applied = await kubectl(['apply', '-f', '-'], { input: JSON.stringify(configuration) });
      if (applied.code !== 0) throw new Error(`registering webhook ${name} failed: ${applied.stderr}`);
      registered = true;
    },
    async stop() {
      if (registered) await kubectl(['delete', 'validatingwebhookconfiguration', name, '--ignore-not-found']);
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // The API server keeps its connections to webhooks alive: close them, or close() waits for them.
      server.closeAllConnections();
      await closed;
    },
  };
}
