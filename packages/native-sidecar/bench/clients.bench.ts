// Client choice (docs/sidecar.md "Client choice"): the same unary call (tokenizer.Count of a 100-byte text,
// content cache warm) to the same warm ku0-sidecar daemon through three TypeScript gRPC clients, in one run:
//   - the package's own client (src/grpc.ts: node:http2 + gRPC framing, proto-loader/protobufjs messages),
//   - @grpc/grpc-js with @grpc/proto-loader (the package's client before this bench picked),
//   - Connect-ES (@connectrpc/connect-node gRPC transport over node:http2, protobuf-es code generated from
//     proto/ into bench/gen by `pnpm --filter @ku0/native-sidecar gen:bench`),
// beside the in-process N-API binding. One call at a time (round trip) and 16 in flight (throughput).
// The extras rows are the floor: a bare Rust HTTP/2 client (crates/sidecar/examples/h2_floor.rs, the `h2`
// crate tonic serves with) making the same call to the same daemon, when built
// (`cargo build --release -p ku0-sidecar --example h2_floor`; else the rows say it was not run).
// `pnpm bench sidecar --file=clients`.
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { defineSuite, type Extra, type SuiteCase } from "@ku0/bench";
import * as native from "@ku0/native-tokenizer";
import { PROTO_DIR } from "../src/client.js";
import { readState, resolveBinary, SidecarClient, SidecarTokenizer } from "../src/index.js";
import { CountRequestSchema, Tokenizer } from "./gen/ku0/tokenizer/v1/tokenizer_pb.js";

const dir = mkdtempSync(join(tmpdir(), "ku0sc-clients-"));
const client = new SidecarClient({ dir });
const ours = new SidecarTokenizer(client);
const binary = resolveBinary();

// 100 bytes of UTF-8 (ASCII words)
const TEXT =
  "const agent = createAgent({ model: 'gpt-4o', tools: [read, write, exec] }); return agent.run(task); ";
if (Buffer.byteLength(TEXT) !== 100) throw new Error(`TEXT is ${Buffer.byteLength(TEXT)} bytes`);
const MODEL = "gpt-4o";
const IN_FLIGHT = 16;

type GrpcJsTokenizer = grpc.Client & {
  count(
    req: { text: string; model?: string },
    opts: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, reply?: { tokens: number }) => void,
  ): void;
};

let grpcJs: GrpcJsTokenizer | undefined;
let socketPath: string | undefined;
const FLOOR = join(dirname(dirname(binary)), "release", "examples", "h2_floor");
let connectClient: ReturnType<typeof createClient<typeof Tokenizer>> | undefined;

function grpcJsCount(): Promise<number> {
  return new Promise((resolve, reject) => {
    grpcJs?.count({ text: TEXT, model: MODEL }, { deadline: Date.now() + 30_000 }, (err, reply) =>
      err ? reject(err) : resolve(reply?.tokens ?? -1),
    );
  });
}

const connectReq = create(CountRequestSchema, { text: TEXT, model: MODEL });
async function connectCount(): Promise<number> {
  const r = await connectClient?.count(connectReq, { timeoutMs: 30_000 });
  return r?.tokens ?? -1;
}

async function inFlight(one: () => Promise<number>): Promise<number> {
  const all: Promise<number>[] = [];
  for (let i = 0; i < IN_FLIGHT; i++) all.push(one());
  const r = await Promise.all(all);
  return r[0] as number;
}

export default defineSuite({
  module: "sidecar",
  title: `sidecar: client choice, tokenizer.Count of 100 B, daemon ${binary.includes("/release/") ? "release" : "debug"} build`,
  cases: async () => {
    if (native.status().active !== "native") throw new Error("@ku0/native-tokenizer binding not built");
    await client.hello(); // spawn before timing
    const socket = readState(dir)?.socket;
    if (!socket) throw new Error("no daemon state after hello");
    socketPath = socket;
    const def = protoLoader.loadSync(["ku0/tokenizer/v1/tokenizer.proto"], {
      includeDirs: [PROTO_DIR],
      keepCase: false,
      longs: Number,
      enums: Number,
      defaults: true,
      oneofs: true,
    });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      ku0: { tokenizer: { v1: { Tokenizer: grpc.ServiceClientConstructor } } };
    };
    grpcJs = new pkg.ku0.tokenizer.v1.Tokenizer(
      `unix:${socket}`,
      grpc.credentials.createInsecure(),
      {},
    ) as unknown as GrpcJsTokenizer;
    connectClient = createClient(
      Tokenizer,
      createGrpcTransport({
        baseUrl: "http://localhost",
        nodeOptions: { createConnection: () => netConnect(socket) },
      }),
    );
    const impls = {
      "in-process N-API async": () => native.countTokensAsync(TEXT, MODEL),
      "node:http2 (ours)": () => ours.countTokens(TEXT, MODEL),
      "@grpc/grpc-js": grpcJsCount,
      "Connect-ES": connectCount,
    };
    const cases: SuiteCase[] = [
      {
        name: "round trip, one call at a time",
        impls,
        baseline: "node:http2 (ours)",
        iterations: 3000,
        minTimeMs: 2000,
        maxTimeMs: 8000,
      },
      {
        name: `${IN_FLIGHT} calls in flight (one sample = ${IN_FLIGHT} calls)`,
        impls: Object.fromEntries(Object.entries(impls).map(([k, f]) => [k, () => inFlight(f)])),
        baseline: "node:http2 (ours)",
        iterations: 500,
        minTimeMs: 2000,
        maxTimeMs: 8000,
        unit: { label: "calls/s", scale: (ms) => (IN_FLIGHT * 1000) / ms },
      },
    ];
    return cases;
  },
  extras: (): Extra[] => {
    if (!existsSync(FLOOR) || !socketPath)
      return [{ name: "Rust h2 floor", value: 0, unit: "", note: `not run: ${FLOOR} not built` }];
    const out = execFileSync(FLOOR, [socketPath, "5000"], { encoding: "utf8" });
    const p50 = /p50 ([\d.]+) us, p99 ([\d.]+) us/.exec(out);
    const tput = /= (\d+) calls\/s/.exec(out);
    return [
      {
        name: "Rust h2 floor, one call at a time, p50",
        value: Number(p50?.[1]),
        unit: "µs",
        note: `p99 ${p50?.[2]} µs (crates/sidecar/examples/h2_floor.rs)`,
      },
      { name: `Rust h2 floor, ${IN_FLIGHT} in flight`, value: Number(tput?.[1]), unit: "calls/s" },
    ];
  },
  teardown: async () => {
    grpcJs?.close();
    await client.shutdownDaemon("bench done");
    client.close();
    rmSync(dir, { recursive: true, force: true });
  },
});
