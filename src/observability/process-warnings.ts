import type { Logger } from './logger.js';

/**
 * Routes Node's process warnings (`process.emitWarning`: gcp-metadata's MetadataLookupWarning, a
 * DeprecationWarning, a MaxListenersExceededWarning…) into the structured log, one warn line each with
 * the warning's name and message, instead of Node's default `(node:1234) Name: message` on stderr, which
 * a log pipeline reads as an unstructured line of unknown level.
 *
 * Node's own printer is a 'warning' listener it installs at start-up; it is removed here rather than
 * asking every way of starting the operator (the Dockerfile, `npm start`, the `regcred` bin, the tests)
 * to pass `--no-warnings`: the composition root is the one place that knows the log exists. Returns a
 * function that puts the previous listeners back.
 */
export function logProcessWarnings(log: Logger, target: NodeJS.Process = process): () => void {
  const previous = target.listeners('warning');
  target.removeAllListeners('warning');
  const onWarning = (warning: Error & { code?: unknown }): void => {
    const code = typeof warning.code === 'string' ? { code: warning.code } : {};
    log.warn({ warning: warning.name, ...code }, `${warning.name}: ${warning.message}`);
  };
  target.on('warning', onWarning);
  return () => {
    target.off('warning', onWarning);
    for (const listener of previous) target.on('warning', listener);
  };
}
