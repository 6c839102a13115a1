/**
 * How far V8 lets the heap grow past what a full collection left live before it collects again.
 *
 * V8 picks that factor itself, from how fast it collects against how fast the program allocates: for the
 * operator's fan-out it chose about 1.6 (156 MiB reserved over 95 MiB live at 20,000 namespaces), and the
 * RSS peak followed the reserved heap, not the live one (BENCHMARKS.md). `--heap-growing-percent` fixes
 * the factor instead. Node refuses it in NODE_OPTIONS, so the operator sets it for itself at start with
 * `v8.setFlagsFromString`: V8 reads the flag each time it sizes the heap after a full collection, so a
 * value set while running takes effect from the next one. Node documents flag changes after start as
 * having undefined behaviour in general; this flag is read at that one place (test/unit/heap-growth.test.ts
 * checks that it is honoured). A V8 that no longer knows the flag prints that it does not and goes on.
 */
import { setFlagsFromString } from 'node:v8';

export const HEAP_GROWING_FLAG = '--heap-growing-percent';

/** Sets V8's heap growing factor to 1 + percent/100; 0 leaves V8's own heuristic. Returns whether it set it. */
export function limitHeapGrowth(percent: number, set: (flags: string) => void = setFlagsFromString): boolean {
  if (!Number.isInteger(percent) || percent < 0) throw new RangeError(`heap growing percent must be a whole number from 0, not ${percent}`);
  if (percent === 0) return false;
  set(`${HEAP_GROWING_FLAG}=${percent}`);
  return true;
}
