import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Ku0Error } from "@ku0/native-loader";
import { backendFor } from "./backends.js";
import { EgressProxy } from "./proxy.js";

/** What a command needs to use the session's allowlist network. */
export interface AllowlistNetworkInfo {
  proxyPort: number;
  /** Linux: the keeper owning the session's network namespace (absent on macOS). */
  netnsPid?: number;
  netnsIno?: number;
}

/**
 * The allowlist network of one session: the egress proxy on a private unix socket, and a keeper
 * process (`ku0-sandbox-exec --netns-keeper`) owning a network namespace with only loopback, whose
 * forwarder on `127.0.0.1:<proxyPort>` leads to the proxy. Commands join that namespace, so no
 * other address is reachable at all. Started lazily, once per session.
 */
export class AllowlistNetwork {
  readonly proxy: EgressProxy;
  private started: Promise<AllowlistNetworkInfo> | undefined;
  private keeper: ChildProcessWithoutNullStreams | undefined;
  private dir: string | undefined;

  constructor(
    private readonly helper: string,
    hosts: string[],
  ) {
    this.proxy = new EgressProxy(hosts);
  }

  get(): Promise<AllowlistNetworkInfo> {
    this.started ??= this.start();
    return this.started;
  }

  private async start(): Promise<AllowlistNetworkInfo> {
    if (backendFor()?.allowlistNetwork === "loopback") {
      // macOS (written, not run): no network namespace; the profile lets commands reach only this
      // loopback port, where the proxy checks every host.
      return { proxyPort: await this.proxy.port() };
    }
    this.dir = mkdtempSync(join(tmpdir(), "ku0-egress-"));
    const sock = join(this.dir, "proxy.sock");
    await this.proxy.listenUnix(sock);
    const keeper = spawn(this.helper, ["--netns-keeper", sock], { env: {}, stdio: ["pipe", "pipe", "pipe"] });
    this.keeper = keeper;
    const port = await new Promise<number>((resolve, reject) => {
      let out = "";
      let err = "";
      keeper.stdout.on("data", (b: Buffer) => {
        out += b.toString();
        const line = out.split("\n")[0];
        if (out.includes("\n") && line) resolve(Number(line));
      });
      keeper.stderr.on("data", (b: Buffer) => {
        err += b.toString();
      });
      keeper.on("error", reject);
      keeper.on("exit", (code) =>
        reject(
          new Ku0Error("ERR_KU0_SANDBOX_SETUP", `network namespace keeper exited (${code}): ${err.trim()}`),
        ),
      );
    });
    if (!(port > 0 && port < 65536) || keeper.pid === undefined) {
      throw new Ku0Error("ERR_KU0_SANDBOX_SETUP", "network namespace keeper reported no port");
    }
    const netnsIno = Number(statSync(`/proc/${keeper.pid}/ns/net`).ino);
    return { proxyPort: port, netnsPid: keeper.pid, netnsIno };
  }

  async close(): Promise<void> {
    const k = this.keeper;
    this.keeper = undefined;
    if (k && k.exitCode === null) {
      k.stdin.end();
      k.kill("SIGKILL");
    }
    await this.proxy.close();
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    this.dir = undefined;
    this.started = undefined;
  }
}
