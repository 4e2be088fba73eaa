// What the argument fuzzer calls: the four packages' public entries and their raw napi bindings, with a
// valid baseline call per export (so a hostile value in position N is not masked by an invalid position 0).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface Ctx {
  /** A fresh empty directory (removed when the call that made it has finished, or with the group's root). */
  tmp(): string;
  /** The package's module namespace (public index or raw binding). */
  mod: Record<string, unknown>;
}

export interface ExportSpec {
  /** Why this export is not fuzzed (reported in the summary). */
  skip?: string;
  /** Baseline arguments of the function or constructor. */
  args?: (ctx: Ctx) => unknown[];
  /** The instance whose methods are fuzzed (default: `new C(...args)`, or the call's result with `returns`). */
  make?: (ctx: Ctx) => unknown;
  /** Baseline arguments per method (default: none). */
  methods?: Record<string, (ctx: Ctx) => unknown[]>;
  /** Methods not fuzzed, with the reason. */
  skipMethods?: Record<string, string>;
  /** Fuzz the methods of the object the baseline call returns (factories, stream objects). */
  returns?: boolean;
  /** Releases an instance after each method call (sync; a hang here is reported against that call). */
  dispose?: (inst: unknown) => unknown;
}

export interface ModuleSpec {
  name: string;
  dir: string;
  envVar: string;
  /** Modes the public surface is fuzzed in (each its own group). */
  modes: string[];
  public: Record<string, ExportSpec>;
  raw: Record<string, ExportSpec>;
}

// biome-ignore lint/suspicious/noExplicitAny: reflective fuzzing over untyped exports
type Any = any;
const call = (inst: unknown, m: string) => (inst as Record<string, () => unknown>)[m]?.();
const closeIt = (inst: unknown) => call(inst, "close");
const text = "hello world, fuzzing the boundary";
const bytes = () => new Uint8Array(Buffer.from(text));
const tool = { id: "t1", name: "bash", arguments: { cmd: "ls" } };
const messages = () => [
  { role: "user", content: text },
  { role: "assistant", content: "ok", toolCalls: [tool] },
  { role: "tool", content: "result", toolCallId: "t1" },
];
const lspSymbol = (file: string) => ({
  name: "foo",
  kind: "function",
  file,
  line: 1,
  column: 0,
  endLine: 2,
  endColumn: 1,
  children: [{ name: "bar", kind: "variable", file, line: 1, column: 2, endLine: 1, endColumn: 5 }],
});
const checkpoint = (id: string) => ({
  id,
  version: 1,
  createdAt: 1_700_000_000_000,
  task: "t",
  agentType: "coder",
  agentId: "a",
  status: "running",
  messages: [{ role: "user", content: "hi", timestamp: 1 }],
  pendingToolCalls: [],
  completedToolCalls: [],
  currentStep: 1,
  maxSteps: 5,
  metadata: {},
  childCheckpointIds: [],
});
const storedMeta = (id: string) => ({
  id,
  agentId: "a",
  agentType: "coder",
  task: "t",
  status: "running",
  createdAt: 1_700_000_000_000,
  currentStep: 1,
  maxSteps: 5,
  hasError: false,
});
const policy = () => ({
  network: "none",
  filesystem: "workspace-only",
  maxMemoryMB: 256,
  maxCpuPercent: 50,
  timeoutMs: 5000,
});
const roots = () => ({ writable: ["/tmp"], readable: ["/usr"], readOnly: [], denied: ["/etc/shadow"] });
const helperPath = (ctx: Ctx) => {
  const find = ctx.mod.findHelper as (() => string | undefined) | undefined;
  return find?.() ?? "/nonexistent/ku0-sandbox-exec";
};
/** A zstd frame of `text` (or plain bytes where zstd is unavailable: the js mode rejects it anyway). */
const frame = (c: Ctx): Uint8Array => {
  try {
    return (c.mod.zstdCompress as Any)(bytes());
  } catch {
    return bytes();
  }
};
/** Log options that keep each fresh log cheap (no 32 MiB zero-filled segment per instance). */
const smallLog = { preallocate: false, segmentSize: 1 << 20, durability: "process" };
/** The methods both message compressors (plain and smart) have. */
const compressorMethods: ExportSpec["methods"] = {
  estimateMessageTokens: () => [messages()[0]],
  calculateTotalTokens: () => [messages()],
  compress: () => [messages()],
  compressAsync: () => [messages()],
  compressWithMaxTokens: () => [messages(), 50],
  compressWithMaxTokensAsync: () => [messages(), 50],
};
/** The storage engine's checkpoint store: the JS one and the binding's have the same surface. */
const checkpointStoreSpec: ExportSpec = {
  args: (c) => [c.tmp(), {}],
  dispose: closeIt,
  methods: {
    save: () => [storedMeta("c1"), bytes()],
    saveSync: () => [storedMeta("c1"), bytes()],
    load: () => ["c1"],
    loadSync: () => ["c1"],
    list: () => [{}],
    delete: () => ["c1"],
    deleteSync: () => ["c1"],
    prune: () => [1000, Date.now()],
    chainLen: () => ["c1"],
    storedSize: () => ["c1"],
  },
};
/** The storage engine's event log (JS or the binding's), plus the methods only one of them has. */
const eventLogSpec = (extra: ExportSpec["methods"] = {}): ExportSpec => ({
  args: (c) => [c.tmp(), { ...smallLog }],
  dispose: closeIt,
  methods: {
    appendJson: () => ['{"a":1}'],
    append: () => [bytes(), 2],
    replay: () => [0, 10],
    prune: () => [0],
    injectFailure: () => ["boom"],
    ...extra,
  },
});
let sharedBatch: unknown;
let probed: unknown;
const mkd = (prefix: string) => mkdtempSync(join(tmpdir(), prefix));

export const MODULES: ModuleSpec[] = [
  {
    name: "tokenizer",
    dir: "native-tokenizer",
    envVar: "KU0_NATIVE_TOKENIZER",
    modes: ["auto", "js"],
    public: {
      countTokens: { args: () => [text, "gpt-4o"] },
      countTokensAsync: { args: () => [text, "gpt-4o"] },
      countTokensBatch: { args: () => [[text, "b"], "gpt-4o"] },
      historyCounts: { args: () => [[text, "b"], "gpt-4o"] },
      historySum: { args: () => [[text, "b"], "gpt-4o"] },
      estimateJsonTokens: { args: () => [{ a: 1 }, "gpt-4o"] },
      planCompressContext: { args: () => [messages(), 100, 1, "gpt-4o"] },
      compressContext: { args: () => [messages(), 100, 1, "gpt-4o"] },
      tryCompressContext: { args: () => [messages(), 100, 1, "gpt-4o"] },
      truncateText: { args: () => [text, 3, { mode: "head" }] },
      setTokenCacheCapacity: { args: () => [64] },
      compressPayloadZstd: { args: () => [{ a: text.repeat(10) }, 16, 3] },
      decompressPayloadZstd: { args: () => [bytes()] },
      encodingForModel: { args: () => ["gpt-4o"] },
      zstdCompress: { args: () => [bytes(), 3] },
      zstdCompressAsync: { args: () => [bytes(), 3] },
      zstdDecompress: { args: (c) => [frame(c), 1024] },
      zstdDecompressAsync: { args: (c) => [frame(c), 1024] },
      zstdTrainDictionary: {
        args: () => [Array.from({ length: 20 }, (_, i) => Buffer.from(`${text} ${i}`.repeat(4))), 1024],
      },
      zstdCompressWithDictionary: { args: () => [bytes(), bytes(), 3] },
      zstdDecompressWithDictionary: { args: () => [bytes(), bytes(), 1024] },
      createZstdCompressStream: { args: () => [3], returns: true, methods: { push: () => [bytes()] } },
      createZstdDecompressStream: { args: () => [1024], returns: true, methods: { push: () => [bytes()] } },
      zstdCompressTransform: { args: () => [3] },
      zstdDecompressTransform: { args: () => [1024] },
      ContextCompactor: {
        args: () => [{}],
        methods: {
          estimateTokens: () => [messages()],
          needsCompaction: () => [messages()],
          pruneToolResults: () => [messages(), 1],
          generateSummaryPrompt: () => [messages(), {}],
          compact: () => [messages()],
          compactAsync: () => [messages()],
        },
      },
      createContextCompactor: { args: () => [{}] },
      MessageCompressor: {
        args: () => [{ maxTokens: 100 }],
        methods: compressorMethods,
      },
      SmartMessageCompressor: {
        args: () => [{ maxTokens: 100 }],
        methods: {
          ...compressorMethods,
          compressToolResult: () => [{ content: [{ type: "text", text }] }],
        },
      },
      createMessageCompressor: { args: () => [{ maxTokens: 100 }] },
      tokenizerModule: { methods: { setMode: () => ["js"], setShadowSampleRate: () => [1] } },
    },
    raw: {
      ZstdCompressStream: { args: () => [3], methods: { push: () => [bytes()] } },
      ZstdDecompressStream: { args: () => [1024], methods: { push: () => [bytes()] } },
      compress_context: { args: () => [messages(), 100, 1, "gpt-4o"] },
      compress_payload_zstd: { args: () => [{ a: text }, 16, 3] },
      compressPayloadBytes: { args: () => [bytes(), 16, 3] },
      count_tokens: { args: () => [text, "gpt-4o"] },
      count_tokens_batch: { args: () => [[text], "gpt-4o"] },
      countTokens: { args: () => [text, "gpt-4o"] },
      countTokensAsync: { args: () => [text, "gpt-4o"] },
      countTokensBatch: { args: () => [[text], "gpt-4o"] },
      countTokensPacked: { args: () => [new Uint8Array([104, 105]), new Uint32Array([2]), "gpt-4o"] },
      countTokensSum: { args: () => [[text], "gpt-4o"] },
      countTokensUncached: { args: () => [text, "gpt-4o"] },
      decode: { args: () => [new Uint32Array([15339]), "gpt-4o"] },
      decompress_payload_zstd: { args: () => [bytes()] },
      decompressPayload: { args: () => [bytes(), 1024] },
      encode: { args: () => [text, "gpt-4o"] },
      encodingForModel: { args: () => ["gpt-4o"] },
      estimate_json_tokens: { args: () => [{ a: 1 }, "gpt-4o"] },
      planCompressContext: {
        args: () => [[{ role: "user", content: text, toolCallCount: 0 }], 100, 1, "gpt-4o"],
      },
      setCountCacheCapacity: { args: () => [64] },
      truncateText: { args: () => [text, 3, "head", "…", "gpt-4o"] },
      zstdCompress: { args: () => [bytes(), 3] },
      zstdCompressAsync: { args: () => [bytes(), 3] },
      zstdCompressWithDictionary: { args: () => [bytes(), bytes(), 3] },
      zstdDecompress: { args: () => [bytes(), 1024] },
      zstdDecompressAsync: { args: () => [bytes(), 1024] },
      zstdDecompressWithDictionary: { args: () => [bytes(), bytes(), 1024] },
      zstdTrainDictionary: {
        args: () => [Array.from({ length: 20 }, (_, i) => Buffer.from(`${text} ${i}`.repeat(4))), 1024],
      },
    },
  },
  {
    name: "storage",
    dir: "native-storage",
    envVar: "KU0_NATIVE_STORAGE",
    modes: ["auto", "js"],
    public: {
      CheckpointStorage: {
        args: (c) => [c.tmp(), {}],
        dispose: closeIt,
        methods: {
          save: () => [checkpoint("c1")],
          load: () => ["c1"],
          list: () => [{}],
          delete: () => ["c1"],
          prune: () => [1000],
          chainLength: () => ["c1"],
          storedSize: () => ["c1"],
        },
      },
      EventLog: {
        args: (c) => [c.tmp(), { ...smallLog, durability: "group" }],
        dispose: closeIt,
        methods: {
          append: () => [{ type: "x", taskId: "t" }],
          appendBytes: () => [bytes(), 2],
          replay: () => [0, 10],
          replayBatch: () => [0, 10],
          prune: () => [0],
          injectFailure: () => ["boom"],
        },
      },
      EventBatch: {
        // One log per process: a batch is immutable, so every call can use the same one.
        make: (c) => {
          if (!sharedBatch) {
            const log = new (c.mod.EventLog as Any)(c.tmp(), smallLog);
            log.append({ type: "x" });
            sharedBatch = log.replayBatch(0);
          }
          return sharedBatch;
        },
        methods: {
          sequenceId: () => [0],
          appendedAt: () => [0],
          recordType: () => [0],
          bytes: () => [0],
          text: () => [0],
          event: () => [0],
        },
      },
      JsCheckpointStore: checkpointStoreSpec,
      JsEventLog: eventLogSpec(),
      serializeCheckpoint: { args: () => [checkpoint("c1")] },
      validateCheckpointId: { args: () => ["c1"] },
      exportRuntimeStorage: { args: (c) => [c.tmp(), join(c.tmp(), "out"), {}] },
      crc32c: { args: () => [bytes()] },
      storageModule: { methods: { setMode: () => ["js"], setShadowSampleRate: () => [1] } },
    },
    raw: {
      NativeCheckpointStore: checkpointStoreSpec,
      NativeEventLog: eventLogSpec({ replayCopy: () => [0, 10] }),
      StorageEngine: {
        args: (c) => [c.tmp()],
        dispose: closeIt,
        methods: {
          saveCheckpoint: () => ["c1", bytes()],
          loadCheckpoint: () => ["c1"],
          deleteCheckpoint: () => ["c1"],
          appendEvent: () => [bytes()],
          replayEvents: () => [0n, 10],
          pruneEvents: () => [0n],
        },
      },
      verifyEventLog: { args: (c) => [c.tmp()] },
    },
  },
  {
    name: "symbol-index",
    dir: "native-symbol-index",
    envVar: "KU0_NATIVE_SYMBOL_INDEX",
    modes: ["auto", "js"],
    public: {
      SymbolGraph: {
        make: (c) => {
          const g = new (c.mod.SymbolGraph as Any)();
          g.updateFileSymbols("/w/a.ts", [lspSymbol("/w/a.ts")]);
          return g;
        },
        methods: {
          updateFileSymbols: () => ["/w/b.ts", [lspSymbol("/w/b.ts")]],
          removeFile: () => ["/w/a.ts"],
          query: () => ["foo", { limit: 5 }],
          save: (c) => [join(c.tmp(), "idx")],
          load: (c) => [join(c.tmp(), "missing")],
          loadBytes: () => [new Uint8Array(8)],
        },
      },
      JsSymbolGraph: {
        methods: {
          updateFileSymbols: () => ["/w/b.ts", [lspSymbol("/w/b.ts")]],
          removeFile: () => ["/w/a.ts"],
          query: () => ["foo", { limit: 5 }],
        },
      },
      ImportGraph: {
        make: (c) => {
          const g = new (c.mod.ImportGraph as Any)();
          g.updateFileImports("/w/a.ts", ["/w/b.ts"]);
          return g;
        },
        methods: {
          updateFileImports: () => ["/w/c.ts", ["/w/a.ts"]],
          removeFile: () => ["/w/a.ts"],
          getImports: () => ["/w/a.ts"],
          getDependents: () => ["/w/b.ts", true],
          save: (c) => [join(c.tmp(), "imp")],
          load: (c) => [join(c.tmp(), "missing")],
          loadBytes: () => [new Uint8Array(8)],
        },
      },
      JsImportGraph: {
        methods: {
          updateFileImports: () => ["/w/c.ts", ["/w/a.ts"]],
          removeFile: () => ["/w/a.ts"],
          getImports: () => ["/w/a.ts"],
          getDependents: () => ["/w/b.ts", true],
        },
      },
      SymbolKnowledgeGraph: {
        args: () => [{}],
        methods: {
          querySymbols: () => ["foo", { limit: 5 }],
          getImports: () => ["/w/a.ts"],
          getDependents: () => ["/w/a.ts", true],
        },
      },
      normalizeToken: { args: () => ["FooBar"] },
      tokenize: { args: () => ["fooBar baz"] },
      symbolIndexModule: { methods: { setMode: () => ["js"], setShadowSampleRate: () => [1] } },
    },
    raw: {
      NativeImportGraph: {
        make: (c) => {
          const g = new (c.mod.NativeImportGraph as Any)();
          g.updateFileImports(1, new Uint32Array([2]));
          return g;
        },
        methods: {
          updateFileImports: () => [3, new Uint32Array([1])],
          removeFile: () => [1],
          getImports: () => [1],
          getDependents: () => [2, true],
        },
      },
      NativeSymbolGraph: {
        methods: {
          updateFilePacked: () => ["/w/a.ts", new Uint8Array(0), new Uint32Array(0), new Float64Array(0)],
          removeFile: () => ["/w/a.ts"],
          queryPacked: () => ["foo", 5, ["function"], false],
          loadBytes: () => [new Uint8Array(8)],
        },
      },
      SymbolIndex: {
        methods: {
          updateFile: () => [
            "/w/a.ts",
            [{ name: "foo", kind: "function", line: 1, column: 0, endLine: 1, endColumn: 3 }],
          ],
          removeFile: () => ["/w/a.ts"],
          query: () => ["foo", { limit: 5 }],
        },
      },
      localeCompare: { args: () => ["a", "b"] },
      normalizeToken: { args: () => ["FooBar"] },
      sortKeyCompare: { args: () => ["a", "b"] },
    },
  },
  {
    name: "sandbox",
    dir: "native-sandbox",
    envVar: "KU0_NATIVE_SANDBOX",
    modes: ["auto", "off"],
    public: {
      collectPaths: { args: () => [{ name: "read_file", arguments: { path: "/tmp/x" } }] },
      operationOf: { args: () => ["read_file"] },
      NativeExecutionSandboxAdapter: {
        args: () => [
          { type: "process", networkAccess: "none", fsIsolation: "workspace", workingDirectory: "/tmp" },
        ],
        methods: {
          preflight: () => [{ name: "read_file", arguments: { path: "/tmp/x" } }, { cwd: "/tmp" }],
          postflight: () => [{ name: "read_file", arguments: { path: "/tmp/x" } }, { success: true }, 1],
        },
      },
      NativeBashExecutor: {
        args: (c) => [{ workspacePath: c.tmp(), prewarm: false }],
        methods: { execute: () => ["true", { timeoutMs: 5000 }] },
        skipMethods: { dispose: "releases the instance" },
      },
      runSandboxed: {
        args: (c) => {
          const build = c.mod.buildExecPolicy as Any;
          const ws = c.tmp();
          return [
            {
              helper: helperPath(c),
              policy: build({ command: "true", workspacePath: ws, policy: policy(), timeoutMs: 5000 }),
              timeoutMs: 5000,
              maxOutputBytes: 4096,
            },
          ];
        },
      },
      readFileBeneath: { args: () => ["/tmp", "nonexistent-ku0-fuzz"] },
      writeFileBeneath: { args: (c) => [c.tmp(), "f.txt", Buffer.from("x")] },
      createReadStreamBeneath: { args: () => ["/tmp", "nonexistent-ku0-fuzz"] },
      createWriteStreamBeneath: { args: (c) => [c.tmp(), "f.txt", { mkdirs: true }] },
      nestedRepositoriesJs: { args: (c) => [c.tmp()] },
      findHelper: { args: () => [{}] },
      probeKernel: { args: (c) => [helperPath(c)] },
      guaranteesFrom: {
        args: (c) => {
          if (probed === undefined) {
            try {
              probed = (c.mod.probeKernel as Any)(helperPath(c));
            } catch {
              probed = {};
            }
          }
          return [{ ...(probed as object) }];
        },
      },
      NativeSandboxManager: {
        args: (c) => [{ defaultWorkspacePath: c.tmp(), prewarm: false }],
        methods: {
          isAvailable: () => [1000],
          getSandbox: (c) => ["fz", { workspacePath: c.tmp() }],
          createSandbox: (c) => ["fz", { workspacePath: c.tmp() }],
          closeSandbox: () => ["fz"],
          getSandboxInfo: () => ["fz"],
        },
        skipMethods: { dispose: "releases the instance" },
      },
      NativeSandboxContext: {
        make: async (c) => {
          const m = new (c.mod.NativeSandboxManager as Any)({
            defaultWorkspacePath: c.tmp(),
            prewarm: false,
          });
          return await m.createSandbox("fz", { workspacePath: c.tmp() });
        },
        methods: { exec: () => ["true", { timeoutMs: 5000 }] },
        skipMethods: { dispose: "releases the instance" },
      },
      newSandboxId: {},
      AllowlistNetwork: { skip: "creates network namespaces (privileged); covered by its own tests" },
      resolvePhysical: { args: () => ["/tmp", "/"] },
      decidePathsJs: { args: () => [roots(), ["/tmp/x"], "/tmp", "read"] },
      buildExecPolicy: {
        args: () => [{ command: "true", workspacePath: mkd("ku0-fz-"), policy: policy(), timeoutMs: 5000 }],
      },
      scrubEnv: { args: () => [{ PATH: "/usr/bin" }] },
      decideEgress: { args: () => ["localhost", ["localhost"]] },
      hostAllowed: { args: () => ["example.com", ["example.com"]] },
      isPrivateAddress: { args: () => ["10.0.0.1"] },
      EgressProxy: {
        args: () => [["example.com"]],
        methods: { setHosts: () => [["example.com"]] },
        skipMethods: {
          listenUnix: "binds a socket per call",
          port: "binds a TCP port per call",
          close: "releases the instance",
        },
      },
      status: { args: () => [{}] },
      nativeUsable: { args: () => [{}] },
      sandboxModule: { methods: { setMode: () => ["off"], setShadowSampleRate: () => [1] } },
    },
    raw: {
      // A real run handle (of a helper that does not exist: its result promise rejects, handled here).
      SandboxRun: {
        make: (ctx) => {
          const r = (ctx.mod as Any).startSandboxed("/nonexistent/ku0-sandbox-exec", "{}", null, 5000, 4096);
          r.result.catch(() => {});
          return r.run;
        },
      },
      decidePaths: { args: () => [roots(), ["/tmp/x"], "/tmp", "read"] },
      defaultDeniedPaths: { args: () => ["/home/x"] },
      readFileBeneath: { args: () => ["/tmp", "nonexistent-ku0-fuzz"] },
      startSandboxed: {
        args: () => ["/nonexistent/ku0-sandbox-exec", "{}", null, 5000, 4096],
      },
      validatePolicy: { args: () => ["{}"] },
      writeFileBeneath: { args: (c) => [c.tmp(), "f.txt", Buffer.from("x"), false] },
      openBeneath: { args: () => ["/tmp", "nonexistent-ku0-fuzz", "read"] },
    },
  },
];
