// The CommonJS entry of a package, built after `tsc` (run from the package directory):
// dist/index.js (ESM) -> dist/index.cjs (one CJS bundle of this package's own files; dependencies stay
// `require`d), and every dist/**/*.d.ts -> .d.cts with relative specifiers pointing at .cjs, so the
// `require` condition has CommonJS types. Node 20 cannot `require()` ESM by default, hence a real build.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

const dist = join(process.cwd(), "dist");

// Test helpers (src/testing.ts, src/testing/**) are excluded by every tsconfig.build.json; one in dist/ is
// left over from an older build (the build starts with tools/release/clean-dist.mjs) and must not be
// shipped or cached.
function* files(dir) {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* files(path);
    else yield path;
  }
}
const stale = [...files(dist)].filter((p) => /(^|[\\/])testing([\\/]|\.)/.test(relative(dist, p)));
if (stale.length > 0) {
  console.error(
    `build-cjs: test helpers in dist/ (stale build output): ${stale.map((p) => relative(dist, p)).join(", ")}`,
  );
  console.error("build-cjs: run the package's build (it removes dist/ first) or delete dist/");
  process.exit(1);
}
const META_URL = "__ku0ImportMetaUrl";

// Extra subpath entries (`node build-cjs.mjs sandbox-rs/index`): dist/<entry>.js -> dist/<entry>.cjs. Such a
// bundle keeps the package's main entry external (`../index.js` -> `../index.cjs`), so both share one copy of
// the module state (mode overrides, loaded binding).
const subpaths = process.argv.slice(2);
const mainExternal = {
  name: "main-entry-external",
  setup(b) {
    b.onResolve({ filter: /^(\.\.\/)+index\.js$/ }, (args) => ({
      path: args.path.replace(/\.js$/, ".cjs"),
      external: true,
    }));
  },
};
for (const entry of ["index", ...subpaths]) {
  await build({
    entryPoints: [join(dist, `${entry}.js`)],
    outfile: join(dist, `${entry}.cjs`),
    bundle: true,
    format: "cjs",
    platform: "node",
    target: "node20",
    packages: "external",
    // `import.meta.url` has no CJS meaning: point it at the bundle itself (same depth as dist/index.js, so
    // `new URL("../package.json", import.meta.url)` still finds the package root).
    define: { "import.meta.url": META_URL },
    banner: { js: `const ${META_URL} = require("node:url").pathToFileURL(__filename).href;` },
    plugins: entry === "index" ? [] : [mainExternal],
    logLevel: "warning",
  });
}

function* declarations(dir) {
  for (const path of files(dir)) if (path.endsWith(".d.ts")) yield path;
}

const RELATIVE_JS = /((?:from|import)\s*\(?\s*)(["'])(\.{1,2}\/[^"']+)\.js\2/g;
let count = 0;
for (const path of declarations(dist)) {
  const text = readFileSync(path, "utf8")
    .replace(RELATIVE_JS, "$1$2$3.cjs$2")
    .replace(/\n\/\/# sourceMappingURL=.*\n?$/, "\n");
  writeFileSync(path.replace(/\.d\.ts$/, ".d.cts"), text);
  count++;
}
console.log(`build-cjs: ${["index", ...subpaths].map((e) => `dist/${e}.cjs`).join(", ")} + ${count} .d.cts`);
