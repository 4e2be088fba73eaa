import { ku0RangeError, ku0TypeError } from "@ku0/native-loader";

export function checkModel(model: unknown): asserts model is string | undefined | null {
  if (model !== undefined && model !== null && typeof model !== "string")
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `model must be a string, got ${typeof model}`);
}

export function checkText(text: unknown, what = "text"): asserts text is string {
  if (typeof text !== "string")
    throw ku0TypeError(
      "ERR_KU0_INVALID_ARG",
      `${what} must be a string, got ${text === null ? "null" : typeof text}`,
    );
}

/** A non-negative integer budget (token counts, message counts, byte sizes). */
export function checkBudget(value: unknown, what: string): asserts value is number {
  if (typeof value !== "number" || Number.isNaN(value))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `${what} must be a number, got ${typeof value}`);
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw ku0RangeError(
      "ERR_KU0_BUDGET_OUT_OF_RANGE",
      `${what} must be a non-negative integer, got ${value}`,
    );
}

export function checkBytes(data: unknown, what = "data"): asserts data is Uint8Array {
  if (!(data instanceof Uint8Array))
    throw ku0TypeError("ERR_KU0_INVALID_ARG", `${what} must be a Uint8Array or Buffer`);
}
