import { Ku0Error } from "@ku0/native-loader";

/** Stable codes of the errors the sidecar client throws (besides the loader's argument errors). */
export const SidecarErrorCodes = {
  /** No `ku0-sidecar` binary at the configured or default paths. */
  binaryNotFound: "ERR_KU0_SIDECAR_BINARY_NOT_FOUND",
  /** The daemon process could not be started, or exited / reported an error before listening. */
  spawnFailed: "ERR_KU0_SIDECAR_SPAWN_FAILED",
  /** Connect-or-spawn or a call did not finish within its bound. */
  timeout: "ERR_KU0_SIDECAR_TIMEOUT",
  /** The daemon went away (crash, kill, shutdown) during or before a call. The next call respawns it. */
  unavailable: "ERR_KU0_SIDECAR_UNAVAILABLE",
  /** A daemon of another version/protocol could not be replaced. */
  versionMismatch: "ERR_KU0_SIDECAR_VERSION_MISMATCH",
  /** A request or reply larger than the message limit. */
  messageTooLarge: "ERR_KU0_SIDECAR_MESSAGE_TOO_LARGE",
  /** Any other failed call (the gRPC status is in `grpcCode`). */
  callFailed: "ERR_KU0_SIDECAR_CALL_FAILED",
  /** The client was closed. */
  closed: "ERR_KU0_SIDECAR_CLOSED",
} as const;

export type SidecarErrorCode = (typeof SidecarErrorCodes)[keyof typeof SidecarErrorCodes];

export class SidecarError extends Ku0Error {
  readonly grpcCode: number | undefined;
  constructor(code: SidecarErrorCode, message: string, options?: { cause?: unknown; grpcCode?: number }) {
    super(code, message, options);
    this.name = "SidecarError";
    this.grpcCode = options?.grpcCode;
  }
}
