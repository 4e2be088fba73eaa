// Removes the package's dist/ before `tsc` writes it again (run from the package directory, first step of
// every package's `build`). tsc never deletes what it no longer emits, so without this a dist/ from an older
// build (e.g. one that still compiled src/testing*) survives into the new build and into turbo's cache,
// which then replays it on a cache hit.
import { rmSync } from "node:fs";
import { join } from "node:path";

rmSync(join(process.cwd(), "dist"), { recursive: true, force: true });
