import * as fs from "node:fs";
import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { Ku0Error } from "@ku0/native-loader";
import { StorageErrorCodes } from "../errors.js";

export function fsyncDir(dir: string): void {
  if (process.platform === "win32") return;
  const fd = fs.openSync(dir, "r");
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export function writeFully(fd: number, buf: Uint8Array, position: number): void {
  let done = 0;
  while (done < buf.length) {
    const n = fs.writeSync(fd, buf, done, buf.length - done, position + done);
    if (n <= 0) throw new Error("short write");
    done += n;
  }
}

export function readFully(fd: number, buf: Uint8Array, position: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = fs.readSync(fd, buf, done, buf.length - done, position + done);
    if (n === 0) break;
    done += n;
  }
  return done;
}

/** temp + fsync + rename + directory fsync. */
export function writeAtomic(dir: string, name: string, data: Uint8Array, durable = true): void {
  const tmp = join(dir, `.${name}.${process.pid}.tmp`);
  const fd = fs.openSync(tmp, "w");
  try {
    writeFully(fd, data, 0);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tmp, join(dir, name));
  if (durable) fsyncDir(dir);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Directories opened by an adapter in this process (either backend). */
const heldInProcess = new Set<string>();

export function claimInProcess(dir: string): string {
  const key = resolve(dir);
  if (heldInProcess.has(key)) {
    throw new Ku0Error(
      StorageErrorCodes.locked,
      `${join(key, "LOCK")} is locked by another writer (this process, pid=${process.pid})`,
    );
  }
  heldInProcess.add(key);
  return key;
}

export function releaseInProcess(key: string): void {
  heldInProcess.delete(key);
}

/** The JS side of the LOCK protocol (docs/storage.md §4): Node has no flock, so the holder line decides. */
export class JsDirLock {
  private fd: number | undefined;
  constructor(readonly dir: string) {
    const path = join(dir, "LOCK");
    const fd = fs.openSync(path, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
    let current = "";
    try {
      current = fs.readFileSync(fd, "utf8").trim();
    } catch {
      current = "";
    }
    const m = /(?:^|\s)pid=(\d+)/.exec(current);
    const pid = m ? Number(m[1]) : undefined;
    if (pid !== undefined && pid !== process.pid && pidAlive(pid)) {
      fs.closeSync(fd);
      throw new Ku0Error(StorageErrorCodes.locked, `${path} is locked by another writer (${current})`);
    }
    const line = `pid=${process.pid} host=${hostname()} since=${Date.now()} engine=js\n`;
    fs.ftruncateSync(fd, 0);
    writeFully(fd, Buffer.from(line), 0);
    this.fd = fd;
  }

  release(): void {
    if (this.fd === undefined) return;
    try {
      fs.ftruncateSync(this.fd, 0);
    } finally {
      fs.closeSync(this.fd);
      this.fd = undefined;
    }
  }
}

export function ioError(err: unknown, what: string): Ku0Error {
  return new Ku0Error(StorageErrorCodes.io, `${what}: ${(err as Error).message ?? String(err)}`, {
    cause: err,
  });
}
