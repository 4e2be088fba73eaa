import { ErrorCodes, Ku0TypeError } from "./errors.js";

/**
 * `sidecar`: the module's engine runs in the `ku0-sidecar` daemon (modules that have a sidecar service
 * list it in their modes); in-process calls of such a module never load the binding and use JS.
 */
export type Mode = "auto" | "native" | "js" | "shadow" | "off" | "sidecar";
export const ALL_MODES: readonly Mode[] = ["auto", "native", "js", "shadow", "off", "sidecar"];

const TRUTHY = new Set(["1", "true", "yes"]);

export type Env = Record<string, string | undefined>;

/** True when a kill switch such as `TOKENIZER_RS_DISABLE_NATIVE` is set to 1/true/yes. */
export function killSwitchSet(env: Env, name: string): boolean {
  const value = env[name];
  return value !== undefined && TRUTHY.has(value.trim().toLowerCase());
}

export function parseMode(
  raw: string | undefined,
  allowed: readonly Mode[],
  source: string,
): Mode | undefined {
  if (raw === undefined) return undefined;
  const value = raw.trim().toLowerCase();
  if (value === "") return undefined;
  if ((allowed as readonly string[]).includes(value)) return value as Mode;
  throw new Ku0TypeError(
    ErrorCodes.invalidFlag,
    `${source}=${JSON.stringify(raw)} is not a valid mode; allowed values: ${allowed.join(", ")}`,
  );
}

/** The "never load the binding" mode of a module: `off` for the sandbox, `js` for the others. */
export function disabledMode(allowed: readonly Mode[]): Mode {
  return allowed.includes("js") ? "js" : "off";
}

/**
 * Mode from the environment: kill switches win (they mean "never native"), then `envVar`, else `auto`.
 * Returns the mode and a human-readable reason.
 */
export function modeFromEnv(
  env: Env,
  envVar: string,
  allowed: readonly Mode[],
  killSwitches: readonly string[],
): { mode: Mode; reason: string } {
  for (const name of killSwitches) {
    if (killSwitchSet(env, name))
      return { mode: disabledMode(allowed), reason: `kill switch ${name} is set` };
  }
  const parsed = parseMode(env[envVar], allowed, envVar);
  if (parsed) return { mode: parsed, reason: `${envVar}=${parsed}` };
  return { mode: "auto", reason: `${envVar} unset (default auto)` };
}
