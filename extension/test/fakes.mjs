// In-memory stand-ins for runtime.Port and the few browser APIs the background uses.

export class FakePort {
  constructor() {
    /** @type {any[]} */
    this.sent = [];
    /** @type {((message: any) => void)[]} */
    this.messageListeners = [];
    /** @type {(() => void)[]} */
    this.disconnectListeners = [];
    this.disconnected = false;
    /** @type {{ message?: string } | null} */
    this.error = null;
    this.onMessage = { addListener: (/** @type {any} */ l) => this.messageListeners.push(l) };
    this.onDisconnect = { addListener: (/** @type {any} */ l) => this.disconnectListeners.push(l) };
  }
  /** @param {any} message */
  postMessage(message) {
    if (this.disconnected) throw new Error("Attempting to use a disconnected port object");
    this.sent.push(message);
  }
  disconnect() {
    this.disconnected = true;
  }
  /** The host answers. @param {any} message */
  answer(message) {
    for (const listener of this.messageListeners) listener(message);
  }
  /** The host exits. @param {string} [reason] */
  exit(reason) {
    this.error = reason ? { message: reason } : null;
    this.disconnected = true;
    for (const listener of this.disconnectListeners) listener();
  }
  last() {
    return this.sent[this.sent.length - 1];
  }
}

/**
 * connectNative that hands out FakePorts and remembers them.
 * @param {(port: FakePort) => void} [onConnect] e.g. answer the handshake
 */
export function fakeConnector(onConnect) {
  /** @type {FakePort[]} */
  const ports = [];
  const connectNative = () => {
    const port = new FakePort();
    ports.push(port);
    onConnect?.(port);
    return port;
  };
  return { ports, connectNative };
}

/** Lets pending promise callbacks run. */
export const flush = () => new Promise((resolve) => setImmediate(resolve));

/** A port that answers `version` with protocol 1 as soon as it is asked. */
export function handshakingConnector(protocol = 1) {
  return fakeConnector((port) => {
    const original = port.postMessage.bind(port);
    port.postMessage = (message) => {
      original(message);
      if (message.command === "version") queueMicrotask(() => port.answer({ id: message.id, result: { version: "1.2.3", protocol } }));
    };
  });
}

/** The windows and runtime APIs the PIN flow uses. */
export function fakeBrowserApi() {
  /** @type {((windowId: number) => void)[]} */
  const removedListeners = [];
  /** @type {((tabId: number) => void)[]} */
  const tabRemovedListeners = [];
  /** @type {{ id: number, url: string }[]} */
  const created = [];
  /** @type {number[]} */
  const removed = [];
  let nextWindowId = 100;
  /** Where the asking tab stands when the PIN window is about to open. */
  const front = { active: true, focused: true };
  return {
    created,
    removed,
    front,
    /** The user closes a window. @param {number} windowId */
    userCloses(windowId) {
      for (const listener of removedListeners) listener(windowId);
    },
    /** The user closes a tab. @param {number} tabId */
    userClosesTab(tabId) {
      for (const listener of tabRemovedListeners) listener(tabId);
    },
    api: /** @type {any} */ ({
      runtime: { getURL: (/** @type {string} */ path) => `chrome-extension://test/${path}` },
      tabs: {
        onRemoved: { addListener: (/** @type {any} */ l) => tabRemovedListeners.push(l) },
        get: async (/** @type {number} */ id) => ({ id, windowId: 1, active: front.active }),
      },
      windows: {
        get: async (/** @type {number} */ id) => ({ id, focused: front.focused }),
        onRemoved: { addListener: (/** @type {any} */ l) => removedListeners.push(l) },
        create: async (/** @type {{ url: string }} */ options) => {
          const window = { id: nextWindowId++, url: options.url };
          created.push(window);
          return window;
        },
        remove: async (/** @type {number} */ id) => {
          removed.push(id);
        },
      },
    }),
  };
}
