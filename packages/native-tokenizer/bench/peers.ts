// The JS tokenizers users would otherwise pick, set up for exact-as-possible counting of plain text.
import { createRequire } from "node:module";
import { getRegexByEncoder, getSpecialTokensByEncoder, TikTokenizer } from "@microsoft/tiktokenizer";
import * as gptCl100k from "gpt-tokenizer/encoding/cl100k_base";
import * as gptO200k from "gpt-tokenizer/encoding/o200k_base";
import { Tiktoken as JsTiktoken } from "js-tiktoken/lite";
import cl100kRanks from "js-tiktoken/ranks/cl100k_base";
import o200kRanks from "js-tiktoken/ranks/o200k_base";

const require = createRequire(import.meta.url);

export type Enc = "cl100k_base" | "o200k_base";

export interface Peer {
  count: (text: string) => number;
  clearCache?: () => void;
}

export function gptTokenizer(enc: Enc): Peer {
  const m = enc === "cl100k_base" ? gptCl100k : gptO200k;
  return {
    count: (t) => m.countTokens(t, { disallowedSpecial: new Set() }),
    clearCache: () => m.clearMergeCache(),
  };
}

export function jsTiktoken(enc: Enc): Peer {
  const t = new JsTiktoken(enc === "cl100k_base" ? cl100kRanks : o200kRanks);
  return { count: (text) => t.encode(text, [], []).length };
}

/** @microsoft/tiktokenizer, fed the ranks shipped by the tiktoken npm package (no download). */
export function msTiktokenizer(enc: Enc): Peer {
  const data = require(`tiktoken/encoders/${enc}.json`) as { bpe_ranks: string };
  const ranks = new Map<Uint8Array, number>();
  for (const line of data.bpe_ranks.split("\n")) {
    if (!line) continue;
    const [, offsetStr, ...tokens] = line.split(" ");
    const offset = Number.parseInt(offsetStr ?? "0", 10);
    tokens.forEach((tok, i) => {
      ranks.set(new Uint8Array(Buffer.from(tok, "base64")), offset + i);
    });
  }
  const make = () => new TikTokenizer(ranks, getSpecialTokensByEncoder(enc), getRegexByEncoder(enc));
  let t = make();
  return {
    count: (text) => t.encode(text, []).length,
    clearCache: () => {
      t = make();
    },
  };
}
