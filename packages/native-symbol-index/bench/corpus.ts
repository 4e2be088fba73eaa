// Realistic symbol corpus: identifiers harvested from TypeScript's lib/*.d.ts (declarations and their
// members, with the declaration line as `detail`), packed into files of ~20 symbols and replicated across
// workspace packages (with name variants) up to the requested size.
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { LspSymbol } from "../src/types.js";

const require = createRequire(import.meta.url);

interface Decl {
  name: string;
  kind: string;
  detail: string;
  members: { name: string; kind: string; detail: string }[];
}

let harvested: Decl[] | undefined;

export function harvest(): Decl[] {
  if (harvested) return harvested;
  const libDir = dirname(require.resolve("typescript/lib/lib.d.ts"));
  const decls: Decl[] = [];
  const top =
    /^(?:declare\s+)?(?:export\s+)?(interface|class|function|var|const|type|namespace|enum)\s+([A-Za-z_$][\w$]*)/;
  const member = /^\s+(?:readonly\s+)?(?:static\s+)?([A-Za-z_$][\w$]*)\??\s*([(:<])/;
  for (const f of readdirSync(libDir).sort()) {
    if (!/^lib\..*\.d\.ts$/.test(f)) continue;
    let current: Decl | undefined;
    for (const line of readFileSync(join(libDir, f), "utf8").split("\n")) {
      const t = top.exec(line);
      if (t) {
        const kindWord = t[1] as string;
        const kind =
          kindWord === "interface"
            ? "Interface"
            : kindWord === "class"
              ? "Class"
              : kindWord === "function"
                ? "Function"
                : kindWord === "type"
                  ? "TypeAlias"
                  : kindWord === "namespace"
                    ? "Namespace"
                    : kindWord === "enum"
                      ? "Enum"
                      : "Variable";
        current = { name: t[2] as string, kind, detail: line.trim().slice(0, 100), members: [] };
        decls.push(current);
        continue;
      }
      const m = member.exec(line);
      if (
        m &&
        current &&
        (current.kind === "Interface" || current.kind === "Class" || current.kind === "Namespace")
      ) {
        current.members.push({
          name: m[1] as string,
          kind: m[2] === "(" ? "Method" : "Property",
          detail: line.trim().slice(0, 100),
        });
      }
      if (line.startsWith("}")) current = undefined;
    }
  }
  harvested = decls;
  return decls;
}

export interface Corpus {
  files: { path: string; symbols: LspSymbol[] }[];
  symbolCount: number;
  names: string[];
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** Files of ~20 symbols until `target` symbols. Copy k > 0 renames half of the declarations with a suffix. */
export function buildCorpus(target: number): Corpus {
  const decls = harvest();
  const words = decls.map((d) => d.name).filter((n) => /^[A-Z][a-z]+$/.test(n));
  const files: Corpus["files"] = [];
  const names: string[] = [];
  let count = 0;
  for (let copy = 0; count < target; copy++) {
    let fileNo = 0;
    let pending: LspSymbol[] = [];
    let pendingCount = 0;
    const flush = () => {
      if (pending.length === 0) return;
      files.push({ path: `/ws/packages/p${copy}/src/m${fileNo++}.ts`, symbols: pending });
      pending = [];
      pendingCount = 0;
    };
    for (let d = 0; d < decls.length && count < target; d++) {
      const decl = decls[d] as Decl;
      const variant =
        copy > 0 && (d + copy) % 2 === 0 ? (words[(d * 31 + copy * 17) % words.length] as string) : "";
      const name = variant ? `${decl.name}${cap(variant)}` : decl.name;
      for (let start = 0; start === 0 || start < decl.members.length; start += 19) {
        const file = `/ws/packages/p${copy}/src/m${fileNo}.ts`;
        const children = decl.members.slice(start, start + 19).map((m, i) => ({
          name: m.name,
          kind: m.kind,
          file,
          line: i + 2,
          column: 4,
          endLine: i + 2,
          endColumn: 4 + m.detail.length,
          detail: m.detail,
        }));
        const sym: LspSymbol = {
          name,
          kind: decl.kind,
          file,
          line: 1,
          column: 0,
          endLine: children.length + 2,
          endColumn: 1,
          detail: decl.detail,
          children,
        };
        // Fix up file paths once we know which file this lands in.
        pending.push(sym);
        pendingCount += 1 + children.length;
        count += 1 + children.length;
        names.push(name);
        if (pendingCount >= 20) flush();
        if (count >= target) break;
      }
    }
    flush();
  }
  // Make every symbol's `file` equal to the file it was placed in.
  for (const f of files) {
    for (const s of f.symbols) {
      s.file = f.path;
      for (const c of s.children ?? []) c.file = f.path;
    }
  }
  return { files, symbolCount: count, names };
}

/** Deterministic query sets per type (`perType` queries each). */
export function querySets(corpus: Corpus, perType = 25): Record<string, string[]> {
  const names = corpus.names.filter((n) => n.length >= 8);
  const pickN = (n: number, f: (name: string, i: number) => string): string[] =>
    Array.from({ length: n }, (_, i) => f(names[(i * 7919) % names.length] as string, i));
  return {
    exact: pickN(perType, (n) => n),
    prefix: pickN(perType, (n, i) => n.slice(0, 4 + (i % 3))),
    substring: pickN(perType, (n, i) => n.slice(2 + (i % 2), 6 + (i % 3)).toLowerCase()),
    "multi-word": pickN(perType, (n, i) =>
      `${n} ${names[(i * 104729 + 3) % names.length]}`
        .replace(/([a-z])([A-Z])/g, "$1 $2")
        .toLowerCase()
        .split(" ")
        .slice(0, 3)
        .join(" "),
    ),
  };
}

/** `n` queries cycling through the four types of [`querySets`] (exact, prefix, substring, multi-word). */
export function mixedQueries(corpus: Corpus, n: number): string[] {
  const sets = Object.values(querySets(corpus, Math.ceil(n / 4)));
  return Array.from({ length: n }, (_, i) => sets[i % sets.length]?.[Math.floor(i / sets.length)] as string);
}

/** Fuzzy query sets with the name each query is meant to find (for hit@k). */
export function fuzzySets(corpus: Corpus): Record<string, { q: string; target: string }[]> {
  const split = (n: string) =>
    n
      .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
      .toLowerCase()
      .split(/[^a-z0-9]+/)
      .filter(Boolean);
  const multi = corpus.names.filter((n) => split(n).length >= 2 && n.length >= 8);
  const long = corpus.names.filter((n) => n.length >= 8);
  const pickN = <T>(xs: string[], n: number, f: (name: string, i: number) => T): T[] =>
    Array.from({ length: n }, (_, i) => f(xs[(i * 7919 + 11) % xs.length] as string, i));
  return {
    "camel-hump": pickN(multi, 25, (n) => ({
      q: split(n)
        .slice(0, 3)
        .map((w) => w.slice(0, 2))
        .join(""),
      target: n,
    })),
    typo: pickN(long, 25, (n, i) => {
      const at = 2 + (i % (n.length - 4));
      const q =
        i % 2
          ? n.slice(0, at) + n.slice(at + 1)
          : n.slice(0, at) + n.charAt(at + 1) + n.charAt(at) + n.slice(at + 2);
      return { q, target: n };
    }),
    "whole prompt": pickN(multi, 25, (n, i) => ({
      q: [
        `Where is the ${split(n).join(" ")} defined? I want to change how it works.`,
        `can you fix the bug in ${split(n).join(" ")} please, it throws on startup`,
        `explain what ${n} does and which files use it`,
      ][i % 3] as string,
      target: n,
    })),
  };
}
