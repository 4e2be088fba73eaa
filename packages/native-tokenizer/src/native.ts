import { fileURLToPath } from "node:url";
import { defineNativeModule, readManifest } from "@ku0/native-loader";
import type * as Binding from "../binding.cjs";

/** This package's own manifest: the one place its version, name and napi binaryName live. */
const packageJson = fileURLToPath(new URL("../package.json", import.meta.url));

export type TokenizerBinding = typeof Binding;

/** This package's version, read from its package.json. */
export const VERSION = readManifest(packageJson).version;

/**
 * The tokenizer's native module: mode from `KU0_NATIVE_TOKENIZER`, kill switch `TOKENIZER_RS_DISABLE_NATIVE`.
 * `sidecar`: the engine calls go to the `ku0-sidecar` daemon (src/sidecar.ts).
 */
export const tokenizerModule = defineNativeModule<TokenizerBinding>({
  module: "tokenizer",
  envVar: "KU0_NATIVE_TOKENIZER",
  modes: ["auto", "native", "js", "shadow", "sidecar"],
  killSwitches: ["TOKENIZER_RS_DISABLE_NATIVE"],
  pathEnvVar: "KU0_NATIVE_TOKENIZER_PATH",
  version: VERSION,
  packageJson,
  selfCheck: (b) => {
    if (b.countTokens("hello world", "gpt-4") !== 2)
      throw new Error("self-check: countTokens('hello world') !== 2");
    if (b.countTokens("<|endoftext|>", "gpt-4o") !== 7)
      throw new Error("self-check: special-token text must count as ordinary text");
  },
});
