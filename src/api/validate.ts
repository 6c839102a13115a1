/**
 * The checks the CRD schema cannot make (or that must hold even if the schema was bypassed or is out of
 * date). A failure is terminal for the spec as written: reported as Ready=False with the reason and a
 * message naming the field and what to write instead, and not retried until the spec changes.
 */
import { DOCKER_HUB_REGISTRY } from './constants.js';
import type { EcrSource, GcrSource, ProviderName, RegistryCredentialSpec, StaticSource } from './types.js';
import { labelSelectorProblem } from '../desired/namespaces.js';
import { cronProblem } from '../policy/schedule.js';

export type SpecInvalidReason =
  | 'InvalidProvider'
  | 'InvalidSchedule'
  | 'InvalidRoleArn'
  | 'InvalidRegistryId'
  | 'InvalidRegion'
  | 'InvalidSecretName'
  | 'InvalidRegistry'
  | 'InvalidSelector'
  | 'InvalidNamespaceName'
  | 'InvalidServiceAccountName'
  | 'InvalidName';

export type SpecValidation = { ok: true; provider: ProviderName } | { ok: false; reason: SpecInvalidReason; message: string };

type Problem = { reason: SpecInvalidReason; message: string } | undefined;

const PROVIDERS: readonly ProviderName[] = ['ecr', 'gcr', 'static'];

// Role names and paths: IAM allows [\w+=,.@-]; partitions: aws, aws-cn, aws-us-gov, aws-iso, ...
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/(?:[\w+=,.@-]+\/)*[\w+=,.@-]{1,64}$/;
const ACCOUNT_ID = /^\d{12}$/;
const AWS_REGION = /^[a-z]{2,}(?:-[a-z]+)+-\d{1,2}$/;
const DNS_LABEL = '[a-z0-9](?:[-a-z0-9]*[a-z0-9])?';
const DNS1123_LABEL = new RegExp(`^${DNS_LABEL}$`);
const DNS1123_SUBDOMAIN = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*$`);
// A kubelet auths key: host (a '*' label matches one DNS label), optional port, optional path prefix.
const REGISTRY_KEY = new RegExp(`^(?:${DNS_LABEL}|\\*)(?:\\.(?:${DNS_LABEL}|\\*))*(?::(\\d{1,5}))?(?:/[a-z0-9._-]+)*/?$`);

export function validateSpec(spec: RegistryCredentialSpec): SpecValidation {
  const providers = PROVIDERS.filter((name) => spec[name] !== undefined && spec[name] !== null);
  const [provider] = providers;
  if (provider === undefined || providers.length > 1) return { ok: false, ...providerProblem(providers) };
  const problem =
    checkProvider(spec) ??
    checkSecretName(spec.secretName) ??
    checkNamespaceNames(spec, 'names') ??
    checkNamespaceNames(spec, 'exclude') ??
    checkSelector(spec) ??
    checkServiceAccountNames(spec.serviceAccounts?.names) ??
    checkSchedule(spec.refresh?.schedule);
  return problem ? { ok: false, ...problem } : { ok: true, provider };
}

function providerProblem(providers: ProviderName[]): { reason: SpecInvalidReason; message: string } {
  const message =
    providers.length === 0
      ? 'spec has no provider: set exactly one of spec.ecr, spec.gcr or spec.static'
      : `spec sets ${providers.map((name) => `spec.${name}`).join(' and ')}: keep exactly one provider block`;
  return { reason: 'InvalidProvider', message };
}

function checkProvider(spec: RegistryCredentialSpec): Problem {
  if (spec.ecr) return checkEcr(spec.ecr);
  if (spec.gcr) return checkGcr(spec.gcr);
  if (spec.static) return checkStatic(spec.static);
  return undefined;
}

function checkEcr(ecr: EcrSource): Problem {
  if (typeof ecr.region !== 'string' || !AWS_REGION.test(ecr.region)) {
    return { reason: 'InvalidRegion', message: `spec.ecr.region ${quote(ecr.region)} is not an AWS region: use a region code like "us-east-1"` };
  }
  for (const [index, id] of (ecr.registryIds ?? []).entries()) {
    if (typeof id !== 'string' || !ACCOUNT_ID.test(id)) {
      return {
        reason: 'InvalidRegistryId',
        message: `spec.ecr.registryIds[${index}] ${quote(id)} is not an AWS account id: use the 12-digit account id, e.g. "123456789012"`,
      };
    }
  }
  if (ecr.roleArn !== undefined && (typeof ecr.roleArn !== 'string' || !ROLE_ARN.test(ecr.roleArn))) {
    return {
      reason: 'InvalidRoleArn',
      message: `spec.ecr.roleArn ${quote(ecr.roleArn)} is not an IAM role ARN: use the form "arn:aws:iam::123456789012:role/ecr-puller"`,
    };
  }
  return undefined;
}

function checkGcr(gcr: GcrSource): Problem {
  const registries = Array.isArray(gcr.registries) ? gcr.registries : [];
  if (registries.length === 0) {
    return { reason: 'InvalidRegistry', message: 'spec.gcr.registries is empty: list at least one host, e.g. ["us-docker.pkg.dev"]' };
  }
  for (const [index, registry] of registries.entries()) {
    const problem = registryProblem(registry);
    if (problem) return { reason: 'InvalidRegistry', message: `spec.gcr.registries[${index}] ${quote(registry)} ${problem}` };
  }
  return undefined;
}

function checkStatic(source: StaticSource): Problem {
  // An absent registry is allowed: a dockerconfigjson source names its own registries.
  if (source.registry === undefined) return undefined;
  const problem = registryProblem(source.registry);
  return problem ? { reason: 'InvalidRegistry', message: `spec.static.registry ${quote(source.registry)} ${problem}` } : undefined;
}

/** Why a value cannot be an auths key the kubelet will match, or undefined when it can. */
export function registryProblem(registry: unknown): string | undefined {
  if (registry === DOCKER_HUB_REGISTRY) return undefined;
  if (typeof registry !== 'string' || registry === '') return `is empty: give a registry host, e.g. "ghcr.io"`;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(registry)) {
    return `must be host[:port][/path] without a scheme, e.g. "ghcr.io" (the only URL accepted is Docker Hub's "${DOCKER_HUB_REGISTRY}")`;
  }
  // The kubelet never matches this host for docker.io images, so the secret would silently do nothing.
  if (registry.split(/[:/]/)[0] === 'registry-1.docker.io') return `is never matched by the kubelet: use "${DOCKER_HUB_REGISTRY}" for Docker Hub`;
  const match = REGISTRY_KEY.exec(registry);
  if (!match || registry.length > 253) return 'is not a valid host[:port][/path]: use a lowercase host name such as "ghcr.io" or "registry.example.com:5000/team"';
  const port = match[1] === undefined ? undefined : Number(match[1]);
  if (port !== undefined && (port < 1 || port > 65535)) return 'has a port outside 1-65535';
  return undefined;
}

function checkSecretName(secretName: string | undefined): Problem {
  if (secretName === undefined) return undefined;
  if (typeof secretName === 'string' && secretName.length <= 253 && DNS1123_SUBDOMAIN.test(secretName)) return undefined;
  return {
    reason: 'InvalidSecretName',
    message: `spec.secretName ${quote(secretName)} is not a valid Secret name: use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit`,
  };
}

function checkNamespaceNames(spec: RegistryCredentialSpec, field: 'names' | 'exclude'): Problem {
  const names: unknown = spec.namespaces?.[field];
  if (names === undefined || names === null) return undefined;
  if (!Array.isArray(names)) {
    return { reason: 'InvalidNamespaceName', message: `spec.namespaces.${field} ${quote(names)} is not a list: list namespace names, e.g. ["team-a"]` };
  }
  for (const [index, name] of names.entries()) {
    if (typeof name === 'string' && name.length <= 63 && DNS1123_LABEL.test(name)) continue;
    return {
      reason: 'InvalidNamespaceName',
      message: `spec.namespaces.${field}[${index}] ${quote(name)} is not a valid namespace name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit`,
    };
  }
  return undefined;
}

function checkServiceAccountNames(names: unknown): Problem {
  if (names === undefined || names === null) return undefined;
  if (!Array.isArray(names)) {
    return { reason: 'InvalidServiceAccountName', message: `spec.serviceAccounts.names ${quote(names)} is not a list: list ServiceAccount names, e.g. ["default"]` };
  }
  for (const [index, name] of names.entries()) {
    if (name === '*' || (typeof name === 'string' && name.length <= 253 && DNS1123_SUBDOMAIN.test(name))) continue;
    return {
      reason: 'InvalidServiceAccountName',
      message: `spec.serviceAccounts.names[${index}] ${quote(name)} is not a valid ServiceAccount name: use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit, or "*" for every ServiceAccount`,
    };
  }
  if (names.includes('*') && names.length > 1) {
    return {
      reason: 'InvalidServiceAccountName',
      message: `spec.serviceAccounts.names ${quote(names)} lists "*" with other names: "*" selects every ServiceAccount and must be the only entry`,
    };
  }
  return undefined;
}

function checkSelector(spec: RegistryCredentialSpec): Problem {
  const selector = spec.namespaces?.selector;
  const problem = selector ? labelSelectorProblem(selector) : undefined;
  return problem ? { reason: 'InvalidSelector', message: `spec.namespaces.selector.${problem}` } : undefined;
}

function checkSchedule(schedule: string | undefined): Problem {
  if (schedule === undefined) return undefined;
  const problem = typeof schedule === 'string' ? cronProblem(schedule) : 'it is not a string';
  if (!problem) return undefined;
  return {
    reason: 'InvalidSchedule',
    message: `spec.refresh.schedule ${quote(schedule)} is not a valid cron expression: ${problem}; use 5 fields like "0 */6 * * *" (read in UTC)`,
  };
}

function quote(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}
