// Writes the bench corpus as tab-separated lines (one flattened symbol per line) for the engine's
// `memory` example: `node --conditions=@ku0/source --import tsx bench/dump-corpus.ts <symbols> <out.tsv>
// [queries.txt]` (the optional second file gets the bench's 3,000 mixed queries, one per line).
import { writeFileSync } from "node:fs";
import { flattenSymbols, resolvePath } from "../src/validate.js";
import { buildCorpus, mixedQueries } from "./corpus.js";

const size = Number(process.argv[2]);
const out = process.argv[3];
const queriesOut = process.argv[4];
if (!(size > 0) || !out) throw new Error("usage: dump-corpus.ts <symbols> <out.tsv>");
const clean = (s: string | undefined) => (s === undefined ? "\u0000" : s.replace(/[\t\n]/g, " "));
const lines: string[] = [];
const corpus = buildCorpus(size);
for (const f of corpus.files) {
  const key = resolvePath(f.path);
  flattenSymbols(f.symbols, (name, kind, file, line, column, endLine, endColumn, container, detail) => {
    lines.push(
      [key, name, kind, file, clean(container), clean(detail), line, column, endLine, endColumn]
        .map((x) => (typeof x === "number" ? String(x) : clean(x)))
        .join("\t"),
    );
  });
}
writeFileSync(out, `${lines.join("\n")}\n`);
if (queriesOut) writeFileSync(queriesOut, `${mixedQueries(corpus, 3000).join("\n")}\n`);
