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
 * Events go to the operator's own namespace (a RegistryCredential is
 * cluster-scoped; `kubectl describe` finds them by involvedObject across
 * namespaces). Failing to record one is logged, never fatal.
 */
export function eventRecorder(writer: KubeWriter, namespace: string, now: () => Date, log: Logger): EventRecorder {
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
