/** A count and its noun, agreeing: "1 namespace", "3 namespaces", "0 namespaces". */
export function plural(n: number, word: string, many = `${word}s`): string {
  return `${n} ${n === 1 ? word : many}`;
}

/** The form agreeing with a count: agree(1, 'has', 'have') is "has", agree(2, 'has', 'have') "have". */
export function agree(n: number, one: string, many: string): string {
  return n === 1 ? one : many;
}
