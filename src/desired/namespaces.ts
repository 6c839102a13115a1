/**
 * Which namespaces receive the pull Secret (API.md §1): (names ∪ selector matches, or every namespace
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

/** Returns a description of the first malformed requirement, or undefined when the selector is usable. */
export function labelSelectorProblem(selector: LabelSelector): string | undefined {
  const expressions = selector.matchExpressions ?? [];
  for (const [index, requirement] of expressions.entries()) {
    const problem = requirementProblem(requirement);
    if (problem) return `matchExpressions[${index}] (key ${JSON.stringify(requirement.key)}) ${problem}`;
  }
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
  if (requirementProblem(requirement)) return false;
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

/** The same checks as apimachinery's LabelSelectorAsSelector. */
function requirementProblem(requirement: LabelSelectorRequirement): string | undefined {
  const count = requirement.values?.length ?? 0;
  switch (requirement.operator) {
    case 'In':
    case 'NotIn':
      return count === 0 ? `uses ${requirement.operator} without values: list at least one value` : undefined;
    case 'Exists':
    case 'DoesNotExist':
      return count > 0 ? `uses ${requirement.operator} with values: remove the values` : undefined;
    default:
      return `has unknown operator ${JSON.stringify(requirement.operator)}: use In, NotIn, Exists or DoesNotExist`;
  }
}

function sortedUnique(names: string[]): string[] {
  return [...new Set(names)].sort();
}
