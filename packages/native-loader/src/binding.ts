import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { ErrorCodes, Ku0Error } from "./errors.js";
import { platformTriple } from "./platform.js";

/** The fields of a module's `package.json` the loader reads. */
export interface ModuleManifest {
  name: string;
  version: string;
  napi?: { binaryName?: string };
}

/** Reads a module's `package.json` (its name, version and napi `binaryName`: the one place they live). */
export function readManifest(packageJsonPath: string): ModuleManifest {
  const manifest = JSON.parse(readFileSync(packageJsonPath, "utf8")) as ModuleManifest;
  if (typeof manifest.name !== "string" || typeof manifest.version !== "string") {
    throw new Ku0Error(ErrorCodes.invalidArg, `${packageJsonPath}: missing name or version`);
  }
  return manifest;
}

/** Where a module's native binding was found, for `status().details.bindingSource`. */
export interface PlatformBinding<B> {
  binding: B;
  /** `local file <path>` (a build in this checkout) or `<platform package>@<version>`. */
  source: string;
}

/**
 * Loads a module's napi binding the napi-rs release way, from the main package's `package.json`:
 *
 * 1. `<binaryName>.<triple>.node` next to that `package.json` (what `napi build --platform` writes in this
 *    checkout; published main packages carry no `.node`);
 * 2. else the platform package `<name>-<triple>` (an `optionalDependency` of the main package), whose
 *    version must equal the main package's: a mismatch throws `ERR_KU0_NATIVE_VERSION_MISMATCH` naming
 *    both packages and versions (a stale lockfile or a partial upgrade, never silently loaded).
 */
export function loadPlatformBinding<B>(
  packageJsonPath: string,
  triple = platformTriple(),
): PlatformBinding<B> {
  const manifest = readManifest(packageJsonPath);
  const binaryName = manifest.napi?.binaryName;
  if (!binaryName) {
    throw new Ku0Error(ErrorCodes.invalidArg, `${manifest.name}: package.json has no napi.binaryName`);
  }
  const file = `${binaryName}.${triple}.node`;
  const req = createRequire(packageJsonPath);
  const local = join(dirname(packageJsonPath), file);
  if (existsSync(local)) return { binding: req(local) as B, source: `local file ${local}` };

  const platformPackage = `${manifest.name}-${triple}`;
  let platformManifestPath: string;
  try {
    platformManifestPath = req.resolve(`${platformPackage}/package.json`);
  } catch {
    throw new Ku0Error(
      ErrorCodes.nativeUnavailable,
      `platform package ${platformPackage} is not installed (it is an optionalDependency of ${manifest.name}@${manifest.version}; was it skipped, e.g. by --no-optional or a lockfile from another platform?)`,
    );
  }
  const installed = readManifest(platformManifestPath).version;
  if (installed !== manifest.version) {
    throw new Ku0Error(
      ErrorCodes.nativeVersionMismatch,
      `${platformPackage}@${installed} is installed but ${manifest.name}@${manifest.version} needs ${platformPackage}@${manifest.version}; reinstall so both have the same version`,
    );
  }
  const path = join(dirname(platformManifestPath), file);
  return { binding: req(path) as B, source: `${platformPackage}@${installed}` };
}
