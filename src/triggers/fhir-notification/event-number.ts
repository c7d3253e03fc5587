/**
 * Event counters are integer64 in R5 (a JSON string), a string in R4B and in the R4 backport
 * (`valueString`), and sometimes a plain number. Anything else is treated as absent.
 */
export function parseEventNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) return undefined;
  return Number(value);
}
