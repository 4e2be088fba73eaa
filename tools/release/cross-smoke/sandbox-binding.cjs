// Run by tools/release/cross-smoke/run.mjs with the foreign Node, inside the fresh project: the sandbox's
// binding (from its platform package) is loaded and called directly; then the adapter is asked to run a
// command with KU0_NATIVE_SANDBOX=native. `node sandbox-binding.cjs <platform>`; prints one JSON line.
process.env.KU0_NATIVE_SANDBOX = "native";
const { randomUUID } = require("node:crypto");
const { mkdirSync, rmSync } = require("node:fs");
const { tmpdir } = require("node:os");
const { join } = require("node:path");
const out = {};
const codeOf = (e) => (typeof e?.code === "string" ? e.code : `untyped: ${e?.message}`);

async function main() {
  // The platform package's main is the `.node` itself.
  out.bindingFile = require.resolve(`@ku0/native-sandbox-${process.argv[2]}`);
  const b = require(`@ku0/native-sandbox-${process.argv[2]}`);
  out.engineVersion = b.engineVersion();
  out.policyOk = typeof b.validatePolicy(JSON.stringify({ argv: ["x"] })) === "string";
  try {
    b.validatePolicy("{");
    out.badPolicy = "accepted";
  } catch (e) {
    out.badPolicy = codeOf(e);
  }
  if (process.platform !== "linux") {
    try {
      const started = b.startSandboxed("ku0-sandbox-exec", JSON.stringify({ argv: ["x"] }), null, 1000, 1000);
      await started.result;
      out.run = "ran";
    } catch (e) {
      out.run = codeOf(e);
      out.runMessage = String(e.message);
    }
  }
  const sb = require("@ku0/native-sandbox");
  const st = sb.status();
  out.adapterActive = st.active;
  out.adapterReason = st.loadError;
  const work = join(tmpdir(), `ku0-cross-sandbox-${randomUUID()}`);
  mkdirSync(work);
  const ex = new sb.NativeBashExecutor({ workspacePath: work });
  try {
    await ex.execute("echo hi", { timeoutMs: 20000 });
    out.execute = "ran";
  } catch (e) {
    out.execute = codeOf(e);
  } finally {
    await ex.dispose();
    rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  () => console.log(JSON.stringify(out)),
  (e) => {
    out.crashed = String(e?.stack);
    console.log(JSON.stringify(out));
  },
);
