import { checkModel } from "./validate.js";

/** tiktoken encodings this package supports. */
export type EncodingName = "cl100k_base" | "o200k_base" | "p50k_base" | "r50k_base";

export const ENCODINGS: readonly EncodingName[] = ["cl100k_base", "o200k_base", "p50k_base", "r50k_base"];

function family(name: string, prefix: string): boolean {
  if (name === prefix) return true;
  if (!name.startsWith(prefix)) return false;
  const next = name.charAt(prefix.length);
  return next === "-" || next === "." || next === ":" || next === "_";
}

/**
 * The encoding a model uses (contracts §1.1): `o200k_base` for gpt-4o, gpt-4.1, gpt-4.5, gpt-5*,
 * o1/o3/o4*; `cl100k_base` for gpt-4, gpt-3.5 and unknown names. An encoding name selects itself.
 * Same rules as the Rust engine (`Encoding::for_model`); a test keeps them equal.
 */
export function encodingForModel(model?: string | null): EncodingName {
  checkModel(model);
  if (model === undefined || model === null) return "cl100k_base";
  const lower = model.trim().toLowerCase();
  if ((ENCODINGS as readonly string[]).includes(lower)) return lower as EncodingName;
  const slash = lower.lastIndexOf("/");
  const name = slash >= 0 ? lower.slice(slash + 1) : lower;
  const o200k =
    name.startsWith("gpt-4o") ||
    name.startsWith("chatgpt-4o") ||
    family(name, "gpt-4.1") ||
    family(name, "gpt-4.5") ||
    name.startsWith("gpt-5") ||
    family(name, "o1") ||
    family(name, "o3") ||
    family(name, "o4") ||
    name.startsWith("o4-mini");
  return o200k ? "o200k_base" : "cl100k_base";
}
