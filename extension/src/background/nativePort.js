// The one connection to the native host `cpx-connect`: opened lazily, checked by a `version`
// handshake, every wait bounded by a timeout, and rebuilt on the next request after the host exits.
// The host answers one request at a time, so requests are posted one at a time: each timer starts
// when its request reaches the host, and one request's timeout never fails another's (requests
// still queued are posted on a fresh connection instead). Concurrent `status` calls share one.

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
 * @property {number} id
 * @property {string} command
 * @property {Record<string, unknown> | undefined} args
 * @property {number} timeoutMs
 * @property {(result: any) => void} resolve
 * @property {(error: CpxError) => void} reject
 * @property {ReturnType<typeof setTimeout> | undefined} timer set once posted
 */

/** Requests waiting for the host beyond this many are refused at once (ERR_BUSY). */
export const MAX_QUEUED_REQUESTS = 16;

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
    /** Every request not yet answered, by id. @type {Map<number, Pending>} */
    this.pending = new Map();
    /** Ids waiting to be posted, oldest first. @type {number[]} */
    this.queue = [];
    /** The request the host is working on. @type {Pending | null} */
    this.inFlight = null;
    /** The `status` request every concurrent caller shares. @type {Promise<any> | null} */
    this.sharedStatus = null;
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
    if (command === "status" && args === undefined && timeoutMs === undefined) {
      if (!this.sharedStatus) {
        this.sharedStatus = this.requestNow("status").finally(() => {
          this.sharedStatus = null;
        });
      }
      return this.sharedStatus;
    }
    return this.requestNow(command, args, timeoutMs);
  }

  /**
   * @param {string} command
   * @param {Record<string, unknown>} [args]
   * @param {number} [timeoutMs]
   */
  async requestNow(command, args, timeoutMs) {
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
      answer = await this.send("version", undefined, this.timeouts.handshake, { first: true });
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
    this.pump();
    this.armIdleTimer();
  }

  /**
   * Queues one request; it is posted when the host has answered the ones before it.
   * @param {string} command
   * @param {Record<string, unknown> | undefined} args
   * @param {number} timeoutMs counted from the moment the request is posted to the host
   * @param {{ first?: boolean }} [options] `first`: the handshake, ahead of anything queued
   */
  send(command, args, timeoutMs, { first = false } = {}) {
    if (!this.port) {
      return Promise.reject(new CpxError(ExtensionErrorCode.HOST_CRASHED, "no connection to the native host"));
    }
    if (!first && this.queue.length >= MAX_QUEUED_REQUESTS) {
      return Promise.reject(new CpxError(ExtensionErrorCode.BUSY, "too many requests are waiting for the native host"));
    }
    const id = this.nextId++;
    this.clearIdleTimer();
    return new Promise((resolve, reject) => {
      this.pending.set(id, { id, command, args, timeoutMs, resolve, reject, timer: undefined });
      if (first) this.queue.unshift(id);
      else this.queue.push(id);
      this.pump();
    });
  }

  /** Posts the oldest queued request if the host is free, and starts its timer. */
  pump() {
    const port = this.port;
    if (!port || this.inFlight || this.queue.length === 0) return;
    const entry = this.pending.get(this.queue[0]);
    if (!entry) {
      this.queue.shift();
      this.pump();
      return;
    }
    // Until the handshake is done, only the handshake goes out.
    if (this.state !== "ready" && entry.command !== "version") return;
    this.queue.shift();
    this.inFlight = entry;
    entry.timer = setTimeout(() => {
      // A host that does not answer has lost its place or hung: drop it. This request fails; the
      // ones queued behind it are posted to a fresh host.
      this.drop(port, `no answer to ${entry.command} within ${entry.timeoutMs} ms`, ExtensionErrorCode.TIMEOUT);
    }, entry.timeoutMs);
    try {
      port.postMessage(entry.args === undefined ? { id: entry.id, command: entry.command } : { id: entry.id, command: entry.command, arguments: entry.args });
    } catch (error) {
      this.inFlight = null;
      this.settle(entry.id);
      entry.reject(new CpxError(ExtensionErrorCode.HOST_CRASHED, `cannot write to the native host: ${describe(error)}`));
      this.pump();
    }
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
    // Only one request is with the host; an error it could not tie to a request (id null) is its.
    const current = this.inFlight;
    if (!current || (message.id !== null && message.id !== current.id)) return; // a late or stray answer
    this.inFlight = null;
    const waiting = /** @type {Pending} */ (this.settle(current.id));
    if ("error" in message) {
      waiting.reject(CpxError.fromHost(message.error));
    } else if (message.result && typeof message.result === "object") {
      waiting.resolve(message.result);
    } else {
      waiting.reject(new CpxError(ExtensionErrorCode.HOST_INCOMPATIBLE, `the native host's answer to ${waiting.command} has no result`));
    }
    this.pump();
    this.armIdleTimer();
  }

  /** @param {NativePort} port */
  onHostGone(port) {
    if (port !== this.port) return;
    const reason = port.error?.message ?? this.lastErrorMessage() ?? "the native host exited";
    // Before the handshake, a vanishing host is almost always a missing or broken installation.
    const wasReady = this.state === "ready";
    const code = wasReady ? ExtensionErrorCode.HOST_CRASHED : ExtensionErrorCode.HOST_NOT_INSTALLED;
    this.port = null;
    this.state = "gone";
    this.lastDisconnectReason = reason;
    this.clearIdleTimer();
    this.failInFlight(code, reason);
    if (wasReady) this.retryQueued();
    else this.failAll(code, reason);
  }

  /**
   * Closes our side of the port and fails whatever waits on it.
   * @param {NativePort} port
   * @param {string} reason
   * @param {string} [code]
   */
  drop(port, reason, code = ExtensionErrorCode.HOST_CRASHED) {
    if (port !== this.port) return;
    const wasReady = this.state === "ready";
    this.port = null;
    this.state = "gone";
    this.lastDisconnectReason = reason;
    this.clearIdleTimer();
    try {
      port.disconnect();
    } catch {
      // already closed
    }
    this.failInFlight(code, reason);
    // Requests never posted did not reach this host: they get a fresh one. During the handshake
    // (or on purpose) there is nothing better to try: they fail with the same reason.
    if (wasReady && code === ExtensionErrorCode.TIMEOUT) this.retryQueued();
    else this.failAll(code, reason);
  }

  /**
   * @param {string} code
   * @param {string} reason
   */
  failInFlight(code, reason) {
    const current = this.inFlight;
    this.inFlight = null;
    if (!current) return;
    this.settle(current.id);
    current.reject(new CpxError(code, `${current.command}: ${reason}`));
  }

  /** Opens a fresh connection for the requests still queued; if that fails, so do they. */
  retryQueued() {
    if (this.queue.length === 0) return;
    this.ensureReady().then(
      () => this.pump(),
      (error) => {
        const failure = error instanceof CpxError ? error : new CpxError(ExtensionErrorCode.INTERNAL, describe(error));
        this.failAll(failure.code, failure.message);
      },
    );
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
    this.queue = [];
    this.inFlight = null;
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
