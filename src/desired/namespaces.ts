/**
 * Which namespaces receive the pull Secret (docs/reference.md): (names ∪ selector matches, or every namespace
 * when both are absent) − exclude − namespaces being deleted; system namespaces only by name.
 */
import { SYSTEM_NAMESPACES } from '../api/constants.js';
import type { LabelSelector, LabelSelectorRequirement, NamespaceSelection } from '../api/types.js';

export interface NamespaceView {
  name: string;
  labels: Record<string, string>;
  /** metadata.deletionTimestamp set, or phase Terminating: a write there would be refused or undone. */
  terminating: boolean;
}

export interface TargetNamespaces {
  /** Sorted. */
  targets: string[];
  /** Listed in spec.namespaces.names (and not excluded) but not in the cluster; sorted. */
  missing: string[];
}

/**
 * Kubernetes label selector semantics: requirements are ANDed, the empty selector matches everything,
 * NotIn and DoesNotExist match when the key is absent. A malformed requirement (which the API server
 * would refuse to turn into a selector) matches nothing, so a bad spec never widens the target set.
 */
export function matchesLabelSelector(labels: Record<string, string>, selector: LabelSelector): boolean {
  const matchLabels = selector.matchLabels ?? {};
  for (const key of Object.keys(matchLabels)) {
    if (!Object.hasOwn(labels, key) || labels[key] !== matchLabels[key]) return false;
  }
  return (selector.matchExpressions ?? []).every((requirement) => matchesRequirement(labels, requirement));
}

/**
 * Returns a description of the first problem (relative to the selector, e.g. `matchLabels["bad key!"]: ...`),
 * or undefined when the API server would accept the selector: label keys must be qualified names, label
 * values valid label values, In/NotIn need values and Exists/DoesNotExist take none.
 */
export function labelSelectorProblem(selector: LabelSelector): string | undefined {
  for (const [key, value] of Object.entries(selector.matchLabels ?? {})) {
    const path = `matchLabels[${JSON.stringify(key)}]`;
    const keyProblem = labelKeyProblem(key);
    if (keyProblem) return `${path}: the key is not a valid label key: ${keyProblem}; ${LABEL_KEY_ADVICE}`;
    const valueProblem = labelValueProblem(value);
    if (valueProblem) return `${path}: the value ${quote(value)} is not a valid label value: ${valueProblem}; ${LABEL_VALUE_ADVICE}`;
  }
  const expressions = selector.matchExpressions ?? [];
  for (const [index, requirement] of expressions.entries()) {
    const problem = requirementProblem(requirement, `matchExpressions[${index}]`);
    if (problem) return problem;
  }
  return undefined;
}

/** What a valid label key looks like, for messages. */
export const LABEL_KEY_ADVICE =
  `use a name of at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, ` +
  `optionally after a DNS subdomain prefix of at most 253 characters and '/', e.g. "tier" or "example.com/tier"`;

/** What a valid label value looks like, for messages. */
export const LABEL_VALUE_ADVICE =
  `use an empty value or at most 63 letters, digits, '-', '_' and '.' that starts and ends with a letter or digit, e.g. "prod"`;

const LABEL_NAME_CHARS = /^[-A-Za-z0-9_.]*$/;
const ALPHANUMERIC_ENDS = /^[A-Za-z0-9](?:.*[A-Za-z0-9])?$/s;
const DNS1123_SUBDOMAIN = /^[a-z0-9](?:[-a-z0-9]*[a-z0-9])?(?:\.[a-z0-9](?:[-a-z0-9]*[a-z0-9])?)*$/;

/**
 * Why `key` is not a label key (apimachinery's IsQualifiedName: an optional DNS-1123 subdomain prefix of at
 * most 253 characters and '/', then a name of at most 63 characters matching
 * ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]), or undefined when it is one.
 */
export function labelKeyProblem(key: unknown): string | undefined {
  if (typeof key !== 'string') return 'it is not a string';
  if (key === '') return 'it is empty';
  const parts = key.split('/');
  if (parts.length > 2) return `it has ${parts.length - 1} '/' characters, at most one is allowed`;
  const [prefix, name] = parts.length === 2 ? [parts[0]!, parts[1]!] : [undefined, parts[0]!];
  if (prefix !== undefined) {
    if (prefix === '') return `the prefix before '/' is empty`;
    if (prefix.length > 253) return `the prefix before '/' is ${prefix.length} characters, more than 253`;
    if (!DNS1123_SUBDOMAIN.test(prefix)) {
      return `the prefix ${quote(prefix)} is not a DNS subdomain (lowercase letters, digits, '-' and '.', each part starting and ending with a letter or digit)`;
    }
  }
  const what = prefix === undefined ? 'it' : `the name ${quote(name)} after '/'`;
  if (name === '') return `the name after '/' is empty`;
  if (name.length > 63) return `${what} is ${name.length} characters, more than 63`;
  if (!LABEL_NAME_CHARS.test(name)) return `${what} contains characters other than letters, digits, '-', '_' and '.'`;
  if (!ALPHANUMERIC_ENDS.test(name)) return `${what} does not start and end with a letter or digit`;
  return undefined;
}

/** Why `value` is not a label value (empty, or at most 63 characters matching ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]). */
export function labelValueProblem(value: unknown): string | undefined {
  if (typeof value !== 'string') return 'it is not a string';
  if (value === '') return undefined;
  if (value.length > 63) return `it is ${value.length} characters, more than 63`;
  if (!LABEL_NAME_CHARS.test(value)) return `it contains characters other than letters, digits, '-', '_' and '.'`;
  if (!ALPHANUMERIC_ENDS.test(value)) return 'it does not start and end with a letter or digit';
  return undefined;
}

export function targetNamespaces(selection: NamespaceSelection | undefined, allNamespaces: NamespaceView[]): TargetNamespaces {
  const listed = new Set(selection?.names ?? []);
  const excluded = new Set(selection?.exclude ?? []);
  const selector = selection?.selector;
  const everything = selection?.names === undefined && selector === undefined;

  const included = (namespace: NamespaceView): boolean => {
    if (listed.has(namespace.name)) return true;
    if (SYSTEM_NAMESPACES.has(namespace.name)) return false;
    return everything || (selector !== undefined && matchesLabelSelector(namespace.labels, selector));
  };

  const targets: string[] = [];
  for (const namespace of allNamespaces) {
    if (included(namespace) && !excluded.has(namespace.name) && !namespace.terminating) targets.push(namespace.name);
  }
  let missing: string[] = [];
  if (listed.size > 0) {
    const present = new Set(allNamespaces.map((namespace) => namespace.name));
    missing = [...listed].filter((name) => !present.has(name) && !excluded.has(name));
  }
  return { targets: sortedUnique(targets), missing: sortedUnique(missing) };
}

function matchesRequirement(labels: Record<string, string>, requirement: LabelSelectorRequirement): boolean {
  if (requirementProblem(requirement, 'requirement')) return false;
  const present = Object.hasOwn(labels, requirement.key);
  const values = requirement.values ?? [];
  switch (requirement.operator) {
    case 'In':
      return present && values.includes(labels[requirement.key] ?? '');
    case 'NotIn':
      return !present || !values.includes(labels[requirement.key] ?? '');
    case 'Exists':
      return present;
    case 'DoesNotExist':
      return !present;
    default:
      return false;
  }
}

/**
 * The same checks as apimachinery's LabelSelectorAsSelector: the key is a label key, In and NotIn have values,
 * Exists and DoesNotExist have none, and every value is a label value. `path` names the requirement.
 */
function requirementProblem(requirement: LabelSelectorRequirement, path: string): string | undefined {
  const keyProblem = labelKeyProblem(requirement.key);
  if (keyProblem) return `${path}.key ${quote(requirement.key)} is not a valid label key: ${keyProblem}; ${LABEL_KEY_ADVICE}`;
  const values: unknown[] = Array.isArray(requirement.values) ? requirement.values : [];
  const described = `${path} (key ${quote(requirement.key)})`;
  switch (requirement.operator) {
    case 'In':
    case 'NotIn':
      if (values.length === 0) return `${described} uses ${requirement.operator} without values: list at least one value`;
      break;
    case 'Exists':
    case 'DoesNotExist':
      if (values.length > 0) return `${described} uses ${requirement.operator} with values: remove the values`;
      break;
    default:
      return `${described} has unknown operator ${quote(requirement.operator)}: use In, NotIn, Exists or DoesNotExist`;
  }
  for (const [index, value] of values.entries()) {
    const problem = labelValueProblem(value);
    if (problem) return `${path}.values[${index}] ${quote(value)} is not a valid label value: ${problem}; ${LABEL_VALUE_ADVICE}`;
  }
  return undefined;
}

function quote(value: unknown): string {
  return JSON.stringify(value) ?? String(value);
}

function sortedUnique(names: string[]): string[] {
  return [...new Set(names)].sort();
}
