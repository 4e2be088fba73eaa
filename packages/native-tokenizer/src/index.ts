export { countTokens, countTokensBatch } from "./count.js";
export { ENCODINGS, type EncodingName, encodingForModel } from "./model.js";
export { type TokenizerBinding, tokenizerModule, VERSION } from "./native.js";

import { tokenizerModule } from "./native.js";

/** `{ module, mode, active, version, loadError?, reason, details? }` for the tokenizer. */
export function status() {
  return tokenizerModule.status();
}
