// The one connection to the native host `cpx-connect`: opened lazily, checked by a `version`
// handshake, every wait bounded by a timeout, and rebuilt on the next request after the host exits.

import { CpxError, ExtensionErrorCode } from "../shared/errors.js";

export const SUPPORTED_PROTOCOL = 1;

/** @typedef {"idle" | "connecting" | "ready" | "gone"} PortState */

/**
 * @typedef {object} NativePort The subset of runtime.Port used here.
 * @property {(message: unknown) => void} postMessage
 * @property {() => void} disconnect
 * @property {{ addListener(listener: (message: any) => void): void }} onMessage
 * @property {{ addListener(listener: (port: any) => void): void }} onDisconnect
 * @property {{ message?: string } | null} [error] Firefox reports why the port closed here.
 */

/**
 * @typedef {object} Pending
 * @property {string} command
 * @property {(result: any) => void} resolve
 * @property {(error: CpxError) => void} reject
 * @property {ReturnType<typeof setTimeout>} timer
 */

export const DEFAULT_TIMEOUTS_MS = Object.freeze({
  handshake: 5_000,
  // Reading certificates from a T=0 card takes a few seconds; leave room for a slow reader.
  status: 15_000,
  certificates: 30_000,
  authenticate: 30_000,
  quit: 2_000,
  // Close the port (and let the host exit) after this long with nothing to do.
  idle: 30_000,
});

export class NativePortService {
  /**
   * @param {object} options
   * @param {(hostName: string) => NativePort} options.connectNative
   * @param {string} options.hostName
   * @param {() => string | undefined} [options.lastErrorMessage] Chromium reports close reasons in runtime.lastError.
   * @param {Partial<typeof DEFAULT_TIMEOUTS_MS>} [options.timeouts]
   */
  constructor({ connectNative, hostName, lastErrorMessage = () => undefined, timeouts = {} }) {
    this.connectNative = connectNative;
    this.hostName = hostName;
    this.lastErrorMessage = lastErrorMessage;
    this.timeouts = { ...DEFAULT_TIMEOUTS_MS, ...timeouts };
    /** @type {PortState} */
    this.state = "idle";
    /** @type {NativePort | null} */
    this.port = null;
    /** @type {Map<number, Pending>} */
    this.pending = new Map();
    this.nextId = 1;
    /** @type {{ version: string, protocol: number } | null} */
    this.hostVersion = null;
    /** @type {Promise<void> | null} */
    this.connecting = null;
    /** Operations that need the port kept open while nothing is pending (the PIN window). */
    this.holds = 0;
    /** @type {ReturnType<typeof setTimeout> | null} */
    this.idleTimer = null;
    /** Why the last port went away, for diagnostics. */
    this.lastDisconnectReason = "";
  }

  /**
   * Sends one command and resolves to its `result`, or rejects with a CpxError carrying the
   * host's code or one of ExtensionErrorCode.
   * @param {string} command
   * @param {Record<string, unknown>} [args]
   * @param {number} [timeoutMs]
   */
  async request(command, args, timeoutMs) {
    await this.ensureReady();
    return this.send(command, args, timeoutMs ?? this.timeoutFor(command));
  }

  /** The host's `version` result, connecting first if needed. */
  async version() {
    await this.ensureReady();
    return /** @type {{ version: string, protocol: number }} */ (this.hostVersion);
  }

  /** Keeps the port open until `release` (the PIN window waits on a person, not on the host). */
  hold() {
    this.holds += 1;
    this.clearIdleTimer();
  }

  release() {
    this.holds = Math.max(0, this.holds - 1);
    this.armIdleTimer();
  }

  async ensureReady() {
    if (this.state === "ready") return;
    if (!this.connecting) {
      this.connecting = this.connect().finally(() => {
        this.connecting = null;
      });
    }
    await this.connecting;
  }

  async connect() {
    this.state = "connecting";
    this.hostVersion = null;
    let port;
    try {
      port = this.connectNative(this.hostName);
    } catch (error) {
      // Chromium throws at once when the name is malformed or the permission is missing.
      this.state = "gone";
      throw new CpxError(ExtensionErrorCode.HOST_NOT_INSTALLED, `cannot start the native host: ${describe(error)}`);
    }
    this.port = port;
    port.onMessage.addListener((message) => this.onHostMessage(port, message));
    port.onDisconnect.addListener(() => this.onHostGone(port));

    /** @type {{ version?: unknown, protocol?: unknown }} */
    let answer;
    try {
      answer = await this.send("version", undefined, this.timeouts.handshake);
    } catch (error) {
      if (error instanceof CpxError && error.code === ExtensionErrorCode.TIMEOUT) {
        throw new CpxError(ExtensionErrorCode.HOST_NOT_INSTALLED, "the native host did not answer the version handshake");
      }
      if (error instanceof CpxError && error.code === ExtensionErrorCode.HOST_CRASHED) {
        throw new CpxError(ExtensionErrorCode.HOST_NOT_INSTALLED, error.message);
      }
      if (error instanceof CpxError && error.code.startsWith("ERR_HOST_")) throw error;
      // The host answered, but with an error to `version`: not a host we can talk to.
      this.drop(port, "the host refused the version handshake");
      throw new CpxError(ExtensionErrorCode.HOST_INCOMPATIBLE, `the native host refused the version handshake: ${describe(error)}`);
    }
    if (answer?.protocol !== SUPPORTED_PROTOCOL || typeof answer?.version !== "string") {
      this.drop(port, "unsupported protocol");
      throw new CpxError(
        ExtensionErrorCode.HOST_INCOMPATIBLE,
        `the native host speaks protocol ${JSON.stringify(answer?.protocol)}, this extension needs ${SUPPORTED_PROTOCOL}`,
      );
    }
    if (this.port !== port) {
      throw new CpxError(ExtensionErrorCode.HOST_CRASHED, "the native host went away during the handshake");
    }
    this.hostVersion = { version: answer.version, protocol: answer.protocol };
    this.state = "ready";
    this.armIdleTimer();
  }

  /**
   * @param {string} command
   * @param {Record<string, unknown> | undefined} args
   * @param {number} timeoutMs
   */
  send(command, args, timeoutMs) {
    const port = this.port;
    if (!port) {
      return Promise.reject(new CpxError(ExtensionErrorCode.HOST_CRASHED, "no connection to the native host"));
    }
    const id = this.nextId++;
    this.clearIdleTimer();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        // A host that does not answer has lost its place or hung: drop it, the next request starts a fresh one.
        this.drop(port, `no answer to ${command} within ${timeoutMs} ms`, ExtensionErrorCode.TIMEOUT);
      }, timeoutMs);
      this.pending.set(id, { command, resolve, reject, timer });
      try {
        port.postMessage(args === undefined ? { id, command } : { id, command, arguments: args });
      } catch (error) {
        this.settle(id);
        clearTimeout(timer);
        reject(new CpxError(ExtensionErrorCode.HOST_CRASHED, `cannot write to the native host: ${describe(error)}`));
      }
    });
  }

  /**
   * @param {NativePort} port
   * @param {any} message
   */
  onHostMessage(port, message) {
    if (port !== this.port) return;
    if (!message || typeof message !== "object") {
      this.drop(port, "the native host sent something that is not a JSON object", ExtensionErrorCode.HOST_INCOMPATIBLE);
      return;
    }
    // The host answers in order; an error it could not tie to a request (id null) belongs to the oldest one.
    const id = message.id === null ? this.pending.keys().next().value : message.id;
    const waiting = typeof id === "number" ? this.settle(id) : undefined;
    if (!waiting) return; // a late answer to a request that already timed out
    if ("error" in message) {
      waiting.reject(CpxError.fromHost(message.error));
    } else if (message.result && typeof message.result === "object") {
      waiting.resolve(message.result);
    } else {
      waiting.reject(new CpxError(ExtensionErrorCode.HOST_INCOMPATIBLE, `the native host's answer to ${waiting.command} has no result`));
    }
    this.armIdleTimer();
  }

  /** @param {NativePort} port */
  onHostGone(port) {
    if (port !== this.port) return;
    const reason = port.error?.message ?? this.lastErrorMessage() ?? "the native host exited";
    // Before the handshake, a vanishing host is almost always a missing or broken installation.
    const code = this.state === "ready" ? ExtensionErrorCode.HOST_CRASHED : ExtensionErrorCode.HOST_NOT_INSTALLED;
    this.failAll(code, reason);
    this.port = null;
    this.state = "gone";
    this.lastDisconnectReason = reason;
    this.clearIdleTimer();
  }

  /**
   * Closes our side of the port and fails whatever waits on it.
   * @param {NativePort} port
   * @param {string} reason
   * @param {string} [code]
   */
  drop(port, reason, code = ExtensionErrorCode.HOST_CRASHED) {
    if (port !== this.port) return;
    this.port = null;
    this.state = "gone";
    this.lastDisconnectReason = reason;
    this.clearIdleTimer();
    this.failAll(code, reason);
    try {
      port.disconnect();
    } catch {
      // already closed
    }
  }

  /** Closes the port on purpose (idle, or the extension is unloading). */
  close() {
    const port = this.port;
    if (!port) return;
    this.drop(port, "closed by the extension");
    this.state = "idle";
  }

  /**
   * @param {string} code
   * @param {string} reason
   */
  failAll(code, reason) {
    const waiting = [...this.pending.values()];
    for (const entry of waiting) clearTimeout(entry.timer);
    this.pending.clear();
    for (const entry of waiting) entry.reject(new CpxError(code, `${entry.command}: ${reason}`));
  }

  /** @param {number} id */
  settle(id) {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    return entry;
  }

  /** @param {string} command */
  timeoutFor(command) {
    const known = /** @type {Record<string, number>} */ (this.timeouts)[command];
    return known ?? this.timeouts.status;
  }

  armIdleTimer() {
    this.clearIdleTimer();
    if (this.state !== "ready" || this.pending.size > 0 || this.holds > 0) return;
    this.idleTimer = setTimeout(() => this.close(), this.timeouts.idle);
  }

  clearIdleTimer() {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }
}

/** @param {unknown} error */
function describe(error) {
  return error instanceof Error ? error.message : String(error);
}
