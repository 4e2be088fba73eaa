import { checkString } from "@ku0/native-loader";

/**
 * The runtime's normalization (contracts §2.1): split ASCII lowercase/digit → uppercase boundaries with a
 * space, lowercase (full Unicode `toLowerCase`), runs of non-`[a-z0-9]` become one space, trim.
 */
export function normalizeToken(value: string): string {
  checkString(value, "value");
  return value
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, " ")
    .trim();
}

/** Query tokens: normalized query split on spaces, tokens under 2 chars dropped, de-duplicated. */
export function tokenize(input: string): string[] {
  checkString(input, "input");
  const normalized = normalizeToken(input);
  if (!normalized) {
    return [];
  }
  const unique = new Set<string>();
  for (const piece of normalized.split(" ")) {
    if (piece.length >= 2) {
      unique.add(piece);
    }
  }
  return Array.from(unique);
}

/** 6 if equal, 4 if prefix, 2 if substring, else 0. */
export function scoreToken(token: string, text: string): number {
  if (!text) {
    return 0;
  }
  if (text === token) {
    return 6;
  }
  if (text.startsWith(token)) {
    return 4;
  }
  if (text.includes(token)) {
    return 2;
  }
  return 0;
}
