import { lookup } from "node:dns/promises";
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { BlockList, connect, isIP, type Socket } from "node:net";
import { checkOptionalInt, checkOptions, checkString } from "@ku0/native-loader";
import { checkHostArgs, checkHosts } from "./validate.js";

/** Addresses that are refused unless the allowlist names them literally. */
const PRIVATE = new BlockList();
for (const [net, prefix, type] of [
  ["0.0.0.0", 8, "ipv4"],
  ["10.0.0.0", 8, "ipv4"],
  ["100.64.0.0", 10, "ipv4"],
  ["127.0.0.0", 8, "ipv4"],
  ["169.254.0.0", 16, "ipv4"],
  ["172.16.0.0", 12, "ipv4"],
  ["192.0.0.0", 24, "ipv4"],
  ["192.168.0.0", 16, "ipv4"],
  ["198.18.0.0", 15, "ipv4"],
  ["224.0.0.0", 4, "ipv4"],
  ["240.0.0.0", 4, "ipv4"],
  ["::", 128, "ipv6"],
  ["::1", 128, "ipv6"],
  ["fc00::", 7, "ipv6"],
  ["fe80::", 10, "ipv6"],
  ["ff00::", 8, "ipv6"],
  ["::ffff:0:0", 96, "ipv6"],
] as const) {
  PRIVATE.addSubnet(net, prefix, type);
}

export function isPrivateAddress(ip: string): boolean {
  checkString(ip, "ip");
  const fam = isIP(ip);
  if (fam === 0) return true;
  return PRIVATE.check(ip, fam === 4 ? "ipv4" : "ipv6");
}

function normHost(h: string): string {
  let s = h.trim().toLowerCase();
  if (s.startsWith("[") && s.endsWith("]")) s = s.slice(1, -1);
  return s.endsWith(".") ? s.slice(0, -1) : s;
}

/** Exact host or `*.suffix` (subdomains only). IP literals only match when listed exactly. */
export function hostAllowed(host: string, patterns: readonly string[]): boolean {
  checkHostArgs(host, patterns);
  const h = normHost(host);
  for (const raw of patterns) {
    const p = normHost(raw);
    if (p === h) return true;
    if (p.startsWith("*.") && isIP(h) === 0 && h.endsWith(p.slice(1)) && h.length > p.length - 1) return true;
  }
  return false;
}

export interface Decision {
  ok: boolean;
  address?: string;
  reason?: string;
}

/** Checks a host and resolves it once; the proxy connects to the checked address only. */
export async function decide(host: string, patterns: readonly string[]): Promise<Decision> {
  checkHostArgs(host, patterns);
  const h = normHost(host);
  if (!hostAllowed(h, patterns)) return { ok: false, reason: `host ${h} is not in the allowlist` };
  const literal = patterns.map(normHost).includes(h) && isIP(h) !== 0;
  if (isIP(h) !== 0)
    return literal ? { ok: true, address: h } : { ok: false, reason: `IP literal ${h} not listed` };
  let addrs: { address: string }[];
  try {
    addrs = await lookup(h, { all: true, verbatim: true });
  } catch (e) {
    return { ok: false, reason: `cannot resolve ${h}: ${(e as Error).message}` };
  }
  const listedIps = new Set(patterns.map(normHost).filter((p) => isIP(p) !== 0));
  const bad = addrs.find((a) => isPrivateAddress(a.address) && !listedIps.has(a.address));
  if (bad) return { ok: false, reason: `${h} resolves to private address ${bad.address}` };
  const first = addrs[0];
  if (!first) return { ok: false, reason: `${h} has no address` };
  return { ok: true, address: first.address };
}

/** Concurrent connections per session through the egress proxy (= the netns keeper's cap). */
export const DEFAULT_PROXY_MAX_CONNECTIONS = 128;
const CONN_LIMIT = "ERR_KU0_SANDBOX_CONN_LIMIT";

/**
 * Egress proxy for one sandbox session (HTTP CONNECT and plain HTTP). It listens on loopback;
 * Landlock lets the sandboxed command connect to this port only.
 */
export class EgressProxy {
  private server: Server | undefined;
  private ready: Promise<number> | undefined;
  private readonly sockets = new Set<Socket>();
  /** Log of refused requests (host, reason), newest last, at most 100. */
  readonly refused: { host: string; reason: string }[] = [];

  private clients = 0;
  private readonly maxConnections: number;

  /**
   * `maxConnections`: concurrent client connections of this session (default
   * {@link DEFAULT_PROXY_MAX_CONNECTIONS}, the netns keeper's own cap). Beyond it a connection
   * gets `503` with `X-Ku0-Error: ERR_KU0_SANDBOX_CONN_LIMIT` and is closed, so a sandboxed
   * command cannot spend the host's descriptors (each client costs at most two here).
   */
  constructor(
    private hosts: string[] = [],
    opts: { maxConnections?: number } = {},
  ) {
    checkHosts(hosts);
    checkOptions(opts, "opts");
    opts ??= {};
    this.maxConnections =
      checkOptionalInt(opts.maxConnections, "maxConnections", { min: 1 }) ?? DEFAULT_PROXY_MAX_CONNECTIONS;
  }

  setHosts(hosts: string[]): void {
    checkHosts(hosts);
    this.hosts = [...hosts];
  }

  private refuse(host: string, reason: string): void {
    this.refused.push({ host, reason });
    if (this.refused.length > 100) this.refused.shift();
  }

  /** Listens on a unix socket path instead of a loopback port (used with the netns keeper). */
  listenUnix(path: string): Promise<number> {
    return this.listen(path);
  }

  /** Listens on an ephemeral loopback port (first call) and returns it. */
  port(): Promise<number> {
    return this.listen(undefined);
  }

  private listen(path: string | undefined): Promise<number> {
    this.ready ??= new Promise<number>((resolve, reject) => {
      const server = createServer((req, res) => void this.onRequest(req, res));
      server.on(
        "connect",
        (req: IncomingMessage, sock: Socket, head: Buffer) => void this.onConnect(req, sock, head),
      );
      server.on("connection", (s: Socket) => {
        if (this.clients >= this.maxConnections) {
          this.refuse("*", `${CONN_LIMIT}: ${this.maxConnections} concurrent connections`);
          s.on("error", () => {});
          s.end(
            `HTTP/1.1 503 Service Unavailable\r\nX-Ku0-Error: ${CONN_LIMIT}\r\nConnection: close\r\n\r\n`,
          );
          return;
        }
        this.clients++;
        this.sockets.add(s);
        s.on("close", () => {
          this.clients--;
          this.sockets.delete(s);
        });
      });
      server.on("error", reject);
      const done = () => {
        const a = server.address();
        if (a && typeof a === "object") resolve(a.port);
        else if (typeof a === "string") resolve(0);
        else reject(new Error("proxy has no address"));
      };
      if (path) server.listen(path, done);
      else server.listen(0, "127.0.0.1", done);
      this.server = server;
    });
    return this.ready;
  }

  private async onConnect(req: IncomingMessage, client: Socket, head: Buffer): Promise<void> {
    const target = req.url ?? "";
    const idx = target.lastIndexOf(":");
    const host = idx > 0 ? target.slice(0, idx) : target;
    const port = Number(idx > 0 ? target.slice(idx + 1) : "443");
    client.on("error", () => client.destroy());
    const d = await decide(host, this.hosts);
    if (!d.ok || !d.address || !(port > 0 && port < 65536)) {
      this.refuse(host, d.reason ?? "bad port");
      client.end(`HTTP/1.1 403 Forbidden\r\nX-Ku0-Reason: ${d.reason ?? "bad port"}\r\n\r\n`);
      return;
    }
    const upstream = connect(port, d.address, () => {
      client.write("HTTP/1.1 200 Connection Established\r\n\r\n");
      if (head.length) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    this.sockets.add(upstream);
    upstream.on("close", () => this.sockets.delete(upstream));
    upstream.on("error", () => {
      client.end("HTTP/1.1 502 Bad Gateway\r\n\r\n");
    });
  }

  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let url: URL;
    try {
      url = new URL(req.url ?? "");
    } catch {
      res.writeHead(400).end("absolute URL required\n");
      return;
    }
    if (url.protocol !== "http:") {
      res.writeHead(400).end("only http:// URLs (use CONNECT for https)\n");
      return;
    }
    const d = await decide(url.hostname, this.hosts);
    if (!d.ok || !d.address) {
      this.refuse(url.hostname, d.reason ?? "refused");
      res.writeHead(403, { "x-ku0-reason": d.reason ?? "refused" }).end(`${d.reason ?? "refused"}\n`);
      return;
    }
    const headers: Record<string, string | string[] | undefined> = { ...req.headers, host: url.host };
    delete headers["proxy-connection"];
    delete headers["proxy-authorization"];
    const up = httpRequest(
      {
        host: d.address,
        port: url.port || 80,
        method: req.method,
        path: `${url.pathname}${url.search}`,
        headers,
      },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on("error", () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(up);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    const server = this.server;
    this.server = undefined;
    this.ready = undefined;
    if (server) await new Promise<void>((r) => server.close(() => r()));
  }
}
