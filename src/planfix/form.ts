// application/x-www-form-urlencoded as Planfix speaks it. Planfix repeats `attachments[name]` /
// `attachments[url]` without an index, so a body is an ordered list of pairs, never a map.

export type FormPair = readonly [key: string, value: string];

export interface PlanfixAttachment {
  name: string;
  url: string;
}

/** Encodes pairs in the given order (repeated keys stay repeated). Spaces become `+`, as browsers and PHP send. */
export function encodeForm(pairs: readonly FormPair[]): string {
  const params = new URLSearchParams();
  for (const [k, v] of pairs) params.append(k, v);
  return params.toString();
}

/** Decodes a form body into its pairs, in order, duplicates kept. Malformed `%` escapes are kept literally. */
export function decodeForm(body: string): FormPair[] {
  const pairs: FormPair[] = [];
  for (const [k, v] of new URLSearchParams(body.trim())) pairs.push([k, v]);
  return pairs;
}
