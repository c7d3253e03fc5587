/**
 * Normalised Levenshtein distance between the AI draft and the signed text: edits / length of the longer
 * text, so 0 = unchanged and 1 = all rewritten. Whitespace runs count as one space (a re-wrapped line is
 * no edit). Two rows of the table only: reports are a few kB.
 */
export function normalisedEditDistance(draft: string, signed: string): number {
  const a = normalise(draft);
  const b = normalise(signed);
  const longer = Math.max(a.length, b.length);
  if (longer === 0) return 0;
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  let current = new Array<number>(b.length + 1).fill(0);
  for (let i = 1; i <= a.length; i += 1) {
    current[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const substitution = previous[j - 1]! + (a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1);
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, substitution);
    }
    [previous, current] = [current, previous];
  }
  return previous[b.length]! / longer;
}

function normalise(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}
