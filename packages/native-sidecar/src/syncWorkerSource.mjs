// Worker entry used when the packages run from TypeScript source (tests, `--conditions=@ku0/source`):
// registers tsx in this worker, then loads the bridge worker's source. Built packages use
// dist/syncWorker.js directly.
import { register } from "tsx/esm/api";

register();
await import(new URL("./syncWorker.ts", import.meta.url).href);
