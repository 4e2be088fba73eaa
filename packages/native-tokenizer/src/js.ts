// The exact JS fallback: the `tiktoken` npm package is a WASM build of OpenAI's tiktoken core, so its
// counts are tiktoken's by construction (pure-JS ports such as js-tiktoken and gpt-tokenizer are not:
// their regexes classify U+FEFF and other code points differently).
import { createRequire } from "node:module";
import { Ku0Error } from "@ku0/native-loader";
import type { Tiktoken } from "tiktoken";
import type { EncodingName } from "./model.js";

const require = createRequire(import.meta.url);
type TiktokenModule = typeof import("tiktoken");
let mod: TiktokenModule | undefined;
const encoders = new Map<EncodingName, Tiktoken>();

/** The process-wide tiktoken (WASM) encoder for an encoding, created on first use and never freed. */
export function jsEncoder(name: EncodingName): Tiktoken {
  let enc = encoders.get(name);
  if (!enc) {
    mod ??= require("tiktoken") as TiktokenModule;
    enc = mod.get_encoding(name);
    encoders.set(name, enc);
  }
  return enc;
}

export function jsCount(text: string, name: EncodingName): number {
  if (text.length === 0) return 0;
  try {
    return jsEncoder(name).encode_ordinary(text).length;
  } catch (err) {
    // tiktoken's WASM traps ("unreachable") on some very long inputs (e.g. a 16 MiB run of one letter):
    // report that as a typed error rather than an untyped RuntimeError.
    throw new Ku0Error(
      "ERR_KU0_JS_TOKENIZER_FAILED",
      `the JS tokenizer (tiktoken WASM) failed on a text of ${text.length} characters: ${String((err as Error)?.message ?? err)}`,
      { cause: err },
    );
  }
}

export function jsEncode(text: string, name: EncodingName): Uint32Array {
  return jsEncoder(name).encode_ordinary(text);
}

const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
export function jsDecodeBytes(tokens: Uint32Array | number[], name: EncodingName): Uint8Array {
  return jsEncoder(name).decode(tokens instanceof Uint32Array ? tokens : Uint32Array.from(tokens));
}
export function jsDecode(tokens: Uint32Array | number[], name: EncodingName): string {
  return decoder.decode(jsDecodeBytes(tokens, name));
}
