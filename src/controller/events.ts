import type { CoreV1Event } from '@kubernetes/client-node';
import { API_VERSION, KIND } from '../api/constants.js';
import type { RegistryCredential } from '../api/types.js';
import type { KubeWriter } from '../kube/writer.js';
import type { Logger } from '../observability/logger.js';

export type EventType = 'Normal' | 'Warning';

export interface EventRecorder {
  record(credential: RegistryCredential, type: EventType, reason: string, message: string): Promise<void>;
}

const COMPONENT = 'regcred-operator';

/**
 * The API server accepts an Event about a cluster-scoped object only in the
 * "default" namespace, which is where `kubectl describe` looks for it.
 */
const EVENT_NAMESPACE = 'default';

/** Failing to record an event is logged, never fatal. */
export function eventRecorder(writer: KubeWriter, now: () => Date, log: Logger): EventRecorder {
  const namespace = EVENT_NAMESPACE;
  return {
    async record(credential, type, reason, message) {
      const at = now();
      const event: CoreV1Event = {
        metadata: { namespace, generateName: `${credential.metadata.name}.` },
        involvedObject: { apiVersion: API_VERSION, kind: KIND, name: credential.metadata.name, uid: credential.metadata.uid },
        type,
        reason,
        message: message.slice(0, 1024),
        source: { component: COMPONENT },
        reportingComponent: COMPONENT,
        reportingInstance: COMPONENT,
        firstTimestamp: at,
        lastTimestamp: at,
        count: 1,
      };
      try {
        await writer.createEvent(event);
      } catch (err) {
        log.warn({ reason, err: (err as Error).message }, 'could not record event');
      }
    },
  };
}
