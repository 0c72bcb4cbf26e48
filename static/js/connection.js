/**
 * The board's WebSocket: binary frames, reconnect with exponential backoff and jitter.
 * It knows nothing of ops: `address` asks the session where to connect (its hello, with `since`,
 * rides in the URL: protocol 9), and the session decides what to resend. Status: connecting, connected, reconnecting, offline, and
 * outdated (the server closed with 4006: this page must be reloaded; no more attempts).
 */
import { decodeFrame } from "./protocol.js";

const BACKOFF_FIRST_MS = 300;
const BACKOFF_MAX_MS = 10_000;
/** After this many failed attempts in a row the page calls itself offline (it keeps retrying). */
const ATTEMPTS_BEFORE_OFFLINE = 3;
/** Close codes that mean "slow down" (docs/protocol.md): wait longer before the next attempt. */
const SLOW_CODES = new Set([4001, 4002]);
/** The server does not speak this page's protocol version: only a reload (new JS) can help. */
const UNSUPPORTED_VERSION = 4006;
/** A socket that lived this long was a healthy connection: the next attempt starts fresh. A
 * socket refused at once (4001 board full, 4002 too fast) keeps the backoff growing. */
const HEALTHY_AFTER_MS = 10_000;

/** A self-healing WebSocket for one board. */
export class Connection {
  /**
   * @param {function(): {url: string, protocols: string[]}} address  the ws:// or wss:// URL of
   *   the board's socket and the subprotocols to offer, asked again for every attempt
   * @param {{onMessages: function(object[]): void,
   *          onClose: function(number, string): void, onStatus: function(string): void}} handlers
   *   onClose gets the close code and reason (docs/protocol.md, "Close codes")
   */
  constructor(address, handlers) {
    this.address = address;
    this.handlers = handlers;
    /** @type {WebSocket|null} */
    this.socket = null;
    this.status = "connecting";
    this.failures = 0;
    this.timer = 0;
    this.wasConnected = false;
    this.stopped = false;
    globalThis.addEventListener?.("online", () => this.retryNow());
  }

  /** Open the socket (first connect). */
  start() {
    this.#open();
  }

  /** @returns {boolean} the socket is open */
  get open() {
    return this.socket !== null && this.socket.readyState === WebSocket.OPEN;
  }

  /**
   * Send one frame's bytes; false when the socket is not open (the caller keeps its data).
   * @param {Uint8Array} bytes
   * @returns {boolean}
   */
  send(bytes) {
    if (!this.open) return false;
    this.socket.send(bytes);
    return true;
  }

  /** Skip the backoff wait (the browser came back online, or the user asked). */
  retryNow() {
    if (this.stopped || this.socket) return;
    clearTimeout(this.timer);
    this.#open();
  }

  /** Close for good (page unload, tests). */
  stop() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.socket?.close(1000);
  }

  /** Drop the current socket as if the network failed (the test hook uses it). */
  drop() {
    this.socket?.close(4900, "dropped by the page"); // clients may use 1000 and 3000-4999
  }

  #setStatus(status) {
    if (status === this.status) return;
    this.status = status;
    this.handlers.onStatus(status);
  }

  #open() {
    let socket;
    try {
      const { url, protocols } = this.address();
      socket = new WebSocket(url, protocols);
    } catch (err) {
      console.warn("whiteboard: cannot open socket", err);
      this.#scheduleRetry(1006);
      return;
    }
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    let openedAt = 0;
    socket.addEventListener("open", () => {
      openedAt = performance.now();
      this.wasConnected = true;
      this.#setStatus("connected");
    });
    socket.addEventListener("message", (event) => {
      if (typeof event.data === "string") return; // the protocol is binary only
      this.handlers.onMessages(decodeFrame(event.data));
    });
    socket.addEventListener("close", (event) => {
      if (this.socket !== socket) return;
      this.socket = null;
      this.handlers.onClose(event.code, event.reason);
      if (openedAt && performance.now() - openedAt > HEALTHY_AFTER_MS) this.failures = 0;
      if (event.code === UNSUPPORTED_VERSION) {
        // Reconnecting would be refused the same way forever: stop, and let the page say why.
        this.stopped = true;
        this.#setStatus("outdated");
        return;
      }
      if (!this.stopped) this.#scheduleRetry(event.code);
    });
  }

  #scheduleRetry(code) {
    this.failures += 1;
    // Offline only when the server cannot be reached at all (1006): a server that answers and
    // refuses (4001 board full) is there.
    const unreachable = code === 1006 && this.failures > ATTEMPTS_BEFORE_OFFLINE;
    const offline = unreachable || globalThis.navigator?.onLine === false;
    this.#setStatus(offline ? "offline" : this.wasConnected ? "reconnecting" : "connecting");
    const base = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.failures - 1));
    const delay = (SLOW_CODES.has(code) ? 3 : 1) * base * (0.75 + Math.random() * 0.5);
    this.timer = setTimeout(() => this.#open(), Math.min(delay, 3 * BACKOFF_MAX_MS));
  }
}
