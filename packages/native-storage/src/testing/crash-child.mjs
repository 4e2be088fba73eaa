// Child process for the kill -9 suite: appends events forever and acknowledges each returned
// sequence id on stdout (synchronously), until the parent SIGKILLs it.
// argv: <native|js> <dir> <process|group|sync> <segmentSize>
import { writeSync } from "node:fs";
import { createRequire } from "node:module";

const [, , backend, dir, durability, segmentSize] = process.argv;
const opts = { durability, segmentSize: Number(segmentSize) };
let log;
if (backend === "native") {
  const require = createRequire(import.meta.url);
  const b = require("../../binding.cjs");
  log = new b.NativeEventLog(dir, opts);
} else {
  const { JsEventLog } = await import("../../dist/js/log.js");
  log = new JsEventLog(dir, opts);
}

function say(line) {
  const buf = Buffer.from(line);
  let done = 0;
  while (done < buf.length) {
    try {
      done += writeSync(1, buf, done);
    } catch (err) {
      if (err.code !== "EAGAIN") throw err;
    }
  }
}

say(`ready ${log.nextSeq()}\n`);
let x = Number(process.pid);
for (;;) {
  const seq = log.nextSeq();
  x = (x * 1103515245 + 12345) & 0x7fffffff;
  const pad = "p".repeat(x % 2500);
  const ev = JSON.stringify({
    id: `e${seq}`,
    sequenceId: seq,
    eventVersion: 1,
    nodeId: "n",
    type: "t",
    timestamp: "",
    payload: { i: seq, pad },
  });
  const got = log.appendJson(ev);
  if (got !== seq) {
    say(`error seq ${got} != ${seq}\n`);
    process.exit(3);
  }
  say(`a ${seq}\n`);
  if (durability === "group" && seq % 5 === 0) {
    await log.flush();
    say(`d ${seq}\n`);
  }
}
