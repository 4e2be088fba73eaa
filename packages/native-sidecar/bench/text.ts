// Deterministic mixed text (prose, code, accents, CJK, emoji, whitespace) for the sidecar benches.

/** `words` words drawn from a small mixed vocabulary by an LCG seeded with `seed`. */
export function text(words: number, seed: number): string {
  const vocab = [
    "agent",
    "token",
    "const",
    "return",
    "=>",
    "{",
    "}",
    "fn",
    "the",
    "é",
    "日本",
    "🎉",
    "\n",
    "  ",
  ];
  let s = "";
  let x = seed;
  for (let i = 0; i < words; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    s += `${vocab[x % vocab.length]} `;
  }
  return s;
}
