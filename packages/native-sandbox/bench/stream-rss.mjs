// Peak RSS growth and time of streaming a 1 GiB sparse file beneath a root, through the package's
// streams (native and the `off` JS fallback) and through the binding's handle directly (`read` returns
// a native-allocated chunk, `readInto` fills a JS-allocated one). Needs the package build (dist/).
// Usage: node packages/native-sandbox/bench/stream-rss.mjs
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";

const pkg = new URL("..", import.meta.url);
const { createReadStreamBeneath, sandboxModule } = await import(new URL("dist/index.js", pkg).href);
const binding = createRequire(import.meta.url)(new URL("binding.cjs", pkg).pathname);
const GiB = 1 << 30;
const dir = mkdtempSync(join(tmpdir(), "ku0-stream-rss-"));
const fd = openSync(join(dir, "sparse"), "w");
ftruncateSync(fd, GiB);
closeSync(fd);

async function measure(name, run) {
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  const t0 = performance.now();
  const bytes = await run();
  clearInterval(timer);
  peak = Math.max(peak, process.memoryUsage().rss);
  const ms = Math.round(performance.now() - t0);
  console.log(JSON.stringify({ name, bytes, ms, peakRssGrowthMiB: Math.round((peak - rss0) / 2 ** 20) }));
}

const chunk = 1 << 20;
for (const mode of ["native", "off"]) {
  sandboxModule.setMode(mode);
  await measure(`stream ${sandboxModule.active()}`, async () => {
    let n = 0;
    const sink = new Writable({
      write(c, _e, cb) {
        n += c.length;
        cb();
      },
    });
    await pipeline(createReadStreamBeneath(dir, "sparse", { chunkBytes: chunk }), sink);
    return n;
  });
}
await measure("binding read(1 MiB)", async () => {
  const f = await binding.openBeneath(dir, "sparse", "read");
  let n = 0;
  for (let c = await f.read(chunk); c.length > 0; c = await f.read(chunk)) n += c.length;
  await f.close();
  return n;
});
await measure("binding readInto(1 MiB, new buffer per chunk)", async () => {
  const f = await binding.openBeneath(dir, "sparse", "read");
  let n = 0;
  for (
    let k = await f.readInto(Buffer.allocUnsafe(chunk));
    k > 0;
    k = await f.readInto(Buffer.allocUnsafe(chunk))
  )
    n += k;
  await f.close();
  return n;
});
rmSync(dir, { recursive: true });
