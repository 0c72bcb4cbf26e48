/**
 * What this page has to send: the messages of the next frame, and every committing op (stroke,
 * erase, clear, undo, redo) not yet acknowledged.
 *
 * A committing op stays in `pending` until it comes back with a seq (or an `ack`, or an `error`
 * naming it). After every (re)connect each pending op is sent again with its original id; the
 * server stores an op id once, so nothing is lost and nothing is doubled (docs/protocol.md,
 * Resume). Frames stay under the server's frame size and byte rate: a long offline session is
 * resent over several frames rather than closed with 1009 or 4002.
 */
import { LIMITS } from "./limits.js";
import { encodeBatch, estimateBytes } from "./protocol.js";

/** Outgoing byte rate and burst: below the server's bytes_per_second (2 MiB/s, bursts of 4). */
const SEND_BYTES_PER_SECOND = LIMITS.sendBytesPerSecond;
const SEND_BURST_BYTES = LIMITS.sendBurstBytes;

/** Unacknowledged ops and the queue of the next frame. */
export class Outbox {
  constructor() {
    /** @type {Map<string, object>} op id -> the whole message, until committed or refused */
    this.pending = new Map();
    /** @type {object[]} messages of the next frame */
    this.queue = [];
    /** @type {Set<string>} strokes whose commit was asked for with `end` (not yet settled) */
    this.endedLive = new Set();
    this.budgetBytes = SEND_BURST_BYTES;
    this.budgetTime = performance.now();
    this.framesSent = 0;
    /** @type {{put: function(object): void, remove: function(string): void}|null} where pending
     *  ops are also kept across page loads (offline.js), set by main */
    this.store = null;
  }

  /**
   * Keep a committing op until it is settled (and in the store, across page loads).
   * @param {object} message  with its op id in `id`
   */
  keep(message) {
    this.pending.set(message.id, message);
    this.store?.put(message);
  }

  /**
   * Keep a committing op until it is settled; queue it now if the connection is ready (otherwise
   * it goes out with the resend after the next welcome).
   * @param {object} message  with its op id in `id`
   * @param {boolean} ready
   */
  commit(message, ready) {
    this.keep(message);
    if (ready) this.queue.push(message);
  }

  /**
   * An op of ours is committed, acknowledged or refused: stop resending it.
   * @param {string} opId
   * @returns {boolean} it was pending
   */
  settle(opId) {
    this.endedLive.delete(opId);
    this.store?.remove(opId);
    return this.pending.delete(opId);
  }

  /** The socket closed: nothing queued survives it; pending strokes are resent whole. */
  disconnected() {
    this.queue = [];
    this.endedLive.clear();
  }

  /** Welcomed (again): resend everything not yet acknowledged, in order, with original ids. */
  resendPending() {
    this.queue = [...this.pending.values()];
  }

  /**
   * Undo and redo depths once every pending op is committed, from the depths on the board.
   * @param {number} undo
   * @param {number} redo
   * @returns {{undo: number, redo: number}}
   */
  history(undo, redo) {
    for (const message of this.pending.values()) {
      if (message.type === "undo") {
        undo -= 1;
        redo += 1;
      } else if (message.type === "redo") {
        undo += 1;
        redo -= 1;
      } else {
        undo += 1;
        redo = 0;
      }
    }
    return { undo, redo };
  }

  /**
   * Send at most one frame of the queue. Returns true when something is still waiting (over the
   * frame's size or the byte budget).
   * @param {import("./connection.js").Connection} conn  open
   * @param {number} now  performance.now()
   * @returns {boolean}
   */
  send(conn, now) {
    if (this.queue.length === 0) return false;
    let count = 0;
    let bytes = 0;
    while (count < this.queue.length && count < LIMITS.maxOpsPerFrame) {
      const size = estimateBytes(this.queue[count]);
      if (count > 0 && bytes + size > LIMITS.frameBudgetBytes) break;
      bytes += size;
      count += 1;
    }
    // Stay under the server's bytes_per_second (a long offline session resends a lot).
    const elapsed = now - this.budgetTime;
    this.budgetTime = now;
    this.budgetBytes = Math.min(SEND_BURST_BYTES, this.budgetBytes + (elapsed / 1000) * SEND_BYTES_PER_SECOND);
    if (this.budgetBytes <= 0) return true;
    const messages = this.queue.splice(0, count);
    const frame = encodeBatch(messages);
    this.budgetBytes -= frame.length;
    conn.send(frame);
    this.framesSent += 1;
    return this.queue.length > 0;
  }
}
