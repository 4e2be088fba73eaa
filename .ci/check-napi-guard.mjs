#!/usr/bin/env node
// Fails when a napi export does not go through the boundary guard (crates/napi-boundary):
// every `#[napi…]` function, every `#[napi]` impl block and every `impl Task for …` in crates/*-napi
// must carry `#[guard]` (ku0_napi_boundary::guard), which turns panics into ERR_KU0_NATIVE_PANIC and
// gives every error its ERR_KU0_… `code`. `#[napi(object)]` structs, plain `#[napi]` structs and enums
// are data, not exports, and need nothing. Usage: node .ci/check-napi-guard.mjs [--self-test]
// (the checker's own cases always run first; --self-test stops after them).
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const GUARD = /^#\[(ku0_napi_boundary::)?guard\]$/;

/** Problems in one file's text: `[line, message]` pairs. */
export function check(text) {
  const lines = text.split("\n");
  const problems = [];
  let attrs = []; // attribute lines directly above the current item
  let implGuarded = null; // guard state of the enclosing top-level impl, null outside impls
  let depth = 0;
  let inImplDepth = -1;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const line = raw.trim();
    if (line.startsWith("//") || line === "") {
      if (line === "") attrs = [];
      continue;
    }
    if (line.startsWith("#[") || line.startsWith("#![")) {
      attrs.push(line);
      continue;
    }
    const hasNapi = attrs.some((a) => /^#\[napi\b/.test(a) && !/^#\[napi\(\s*object/.test(a));
    const guarded = attrs.some((a) => GUARD.test(a));
    const isFn = /^(pub(\([^)]*\))?\s+)?(unsafe\s+)?(async\s+)?fn\s/.test(line);
    const isImpl = /^(unsafe\s+)?impl\b/.test(line);
    if (depth === 0) {
      if (isImpl) {
        const isTask = /\bimpl(<[^>]*>)?\s+(napi::)?(bindgen_prelude::)?Task\s+for\b/.test(line);
        if ((hasNapi || isTask) && !guarded) {
          problems.push([i + 1, `${isTask ? "impl Task" : "#[napi] impl"} without #[guard]: ${line}`]);
        }
        implGuarded = guarded;
        inImplDepth = 0;
      } else if (isFn && hasNapi && !guarded) {
        problems.push([i + 1, `#[napi] function without #[guard]: ${line}`]);
      }
    } else if (inImplDepth === 0 && depth === 1 && isFn && hasNapi && !implGuarded) {
      problems.push([i + 1, `#[napi] method in an impl without #[guard]: ${line}`]);
    }
    attrs = [];
    // Brace depth, ignoring braces in strings and char literals (good enough for binding code).
    const code = raw
      .replace(/"(\\.|[^"\\])*"/g, '""')
      .replace(/'(\\.|[^'\\])'/g, "''")
      .replace(/\/\/.*$/, "");
    for (const c of code) {
      if (c === "{") depth++;
      else if (c === "}") {
        depth--;
        if (depth === 0) {
          implGuarded = null;
          inImplDepth = -1;
        }
      }
    }
  }
  return problems;
}

function selfTest() {
  const cases = [
    ["#[napi]\npub fn f() {}\n", 1],
    ["#[guard]\n#[napi(catch_unwind)]\npub fn f() {}\n", 0],
    ["#[napi(object)]\npub struct S {\n    pub a: u32,\n}\n", 0],
    ["#[napi]\nimpl X {\n    #[napi]\n    pub fn m(&self) {}\n}\n", 2],
    ["#[guard]\n#[napi]\nimpl X {\n    #[napi]\n    pub fn m(&self) {}\n}\n", 0],
    ["impl Task for T {\n    fn compute(&mut self) {}\n}\n", 1],
    ["#[guard]\nimpl Task for T {\n    fn compute(&mut self) {}\n}\n", 0],
    ['#[guard]\n#[napi]\npub fn f() {\n    let s = "}";\n}\n#[napi]\npub fn g() {}\n', 1],
  ];
  let bad = 0;
  for (const [text, want] of cases) {
    const got = check(text).length;
    if (got !== want) {
      bad++;
      console.error(`self-test: expected ${want} problem(s), got ${got} for:\n${text}`);
    }
  }
  if (bad) process.exit(1);
  console.log(`check-napi-guard self-test: ${cases.length} cases ok`);
}

function rsFiles(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...rsFiles(p));
    else if (name.endsWith(".rs")) out.push(p);
  }
  return out;
}

selfTest();
if (!process.argv.includes("--self-test")) {
  const root = join(import.meta.dirname, "..");
  const crates = join(root, "crates");
  let count = 0;
  let files = 0;
  for (const c of readdirSync(crates).filter((d) => d.endsWith("-napi"))) {
    for (const f of rsFiles(join(crates, c, "src"))) {
      files++;
      for (const [line, msg] of check(readFileSync(f, "utf8"))) {
        console.error(`${relative(root, f)}:${line}: ${msg}`);
        count++;
      }
    }
  }
  if (count) {
    console.error(
      `check-napi-guard: ${count} export(s) bypass the boundary guard (add #[guard], see crates/napi-boundary)`,
    );
    process.exit(1);
  }
  console.log(`check-napi-guard: every #[napi] export in ${files} file(s) goes through #[guard]`);
}
