/**
 * One page's life on a board: what it has sent and not yet seen committed, its live strokes,
 * its peers, and the one frame per animation frame it may send.
 *
 * Committing ops (stroke, erase, clear, undo, redo) stay in `pending` until they come back with a
 * seq (or an `ack`, or an `error` naming them). On every (re)connect the hello carries the last
 * applied seq as `since`, then every pending op is sent again with its original id; the server
 * stores an op id once, so nothing is lost and nothing is doubled (docs/protocol.md, Resume).
 */
import { LIMITS } from "./limits.js";
import { encodeBatch, encodeFrame, estimateBytes, newId, quantise, SHAPE_TOOLS } from "./protocol.js";

const COMMITTED_TYPES = new Set(["stroke", "erase", "clear", "undo", "redo"]);
/** Outgoing byte rate and burst: below the server's bytes_per_second (2 MiB/s, bursts of 4). */
const SEND_BYTES_PER_SECOND = LIMITS.sendBytesPerSecond;
const SEND_BURST_BYTES = LIMITS.sendBurstBytes;
/** Touch strokes wait this long before going live, so a two-finger pinch can still cancel them. */
export const TOUCH_HOLD_MS = 90;

/**
 * @typedef {object} LiveStroke  a stroke this page is drawing now
 * @property {string} id
 * @property {string} tool
 * @property {string} color
 * @property {number} width
 * @property {number[]} pts  delta-coded quanta, as on the wire
 * @property {number[]|null} p  pressure per point, or null (mouse, touch)
 * @property {number} version  bumped on every change (render caches key on it)
 * @property {number} lastX  last absolute point, quanta
 * @property {number} lastY
 * @property {boolean} begun  `begin` was sent on the current connection
 * @property {number} sentPoints  points already sent on the current connection
 * @property {number} holdUntil  performance.now() before which it is not sent live
 */

/** Protocol state of this page: pending ops, live strokes, peers, the outgoing frame. */
export class Session {
  /**
   * @param {import("./board.js").Board} board
   * @param {{client: string, name: string, color: string}} identity
   */
  constructor(board, identity) {
    this.board = board;
    this.identity = identity;
    /** @type {import("./connection.js").Connection|null} set by main before start */
    this.conn = null;
    this.ready = false;
    /** @type {{peer: number, author: string}|null} */
    this.me = null;
    this.shareUrl = "";
    /** @type {Map<number, {peer: number, name: string, color: string}>} */
    this.peers = new Map();
    /** @type {Map<number, {x: number, y: number}>} */
    this.cursors = new Map();
    /** @type {Map<string, object>} op id -> the whole message, until committed or refused */
    this.pending = new Map();
    /** @type {object[]} messages of the next frame */
    this.outbox = [];
    /** @type {{x: number|null, y: number|null}|undefined} latest cursor, not yet sent */
    this.cursor = undefined;
    /** @type {Map<string, LiveStroke>} */
    this.ownLive = new Map();
    /** @type {Map<string, object>} peers' live strokes by id: peer, tool, color, width, pts, p */
    this.peerLive = new Map();
    /** @type {Map<string, number>} stroke id -> pending erases hiding it locally */
    this.localHidden = new Map();
    this.budgetBytes = SEND_BURST_BYTES;
    this.budgetTime = performance.now();
    /** @type {Set<string>} strokes whose commit was asked for with `end` (not yet settled) */
    this.endedLive = new Set();
    /** @type {Map<string, string[]>} pending erase op id -> stroke ids */
    this.eraseTargets = new Map();
    /** Callbacks set by main: board changes, overlays, peers, errors, welcome. */
    this.on = {
      change: (_change) => {}, overlay: () => {}, peers: () => {}, cursors: () => {},
      error: (_message) => {}, welcome: () => {}, reset: () => {}, hidden: (_ids) => {},
    };
  }

  // --- connection events ------------------------------------------------------------------------

  /** The socket opened: say hello with the last seq applied, so the replay holds only news. */
  onOpen() {
    const { client, name, color } = this.identity;
    this.conn.send(encodeFrame({ type: "hello", client, name, color, since: this.board.seq || null }));
  }

  /** The socket closed: live strokes must be begun again on the next connection. */
  onClose() {
    this.ready = false;
    this.outbox = [];
    this.endedLive.clear(); // pending strokes are resent whole on the next connection
    for (const live of this.ownLive.values()) {
      live.begun = false;
      live.sentPoints = 0;
    }
    this.peerLive.clear();
    this.cursors.clear();
    // Who else is here is unknown until the next welcome: show only ourselves meanwhile.
    const mine = this.me && this.peers.get(this.me.peer);
    this.peers = mine ? new Map([[mine.peer, mine]]) : new Map();
    this.on.overlay();
    this.on.cursors();
    this.on.peers();
  }

  /** @param {object[]} messages decoded from one frame */
  onMessages(messages) {
    for (const message of messages) {
      try {
        this.#handle(message);
      } catch (err) {
        console.error("whiteboard: cannot handle", message?.type, err);
      }
    }
  }

  #handle(msg) {
    const type = msg.type;
    if (typeof msg.seq === "number" && typeof msg.by === "string" && COMMITTED_TYPES.has(type)) {
      this.#settle(msg.id);
      const change = this.board.apply(msg);
      if (type === "stroke") this.peerLive.delete(msg.id);
      if (change) this.on.change(change, msg);
      if (type === "stroke") this.on.overlay();
      return;
    }
    switch (type) {
      case "welcome": return this.#welcome(msg);
      case "begin":
        if (!this.board.strokes.has(msg.id)) {
          this.peerLive.set(msg.id, {
            peer: msg.peer, tool: msg.tool, color: msg.color, width: msg.width,
            pts: Array.from(msg.pts), p: msg.p ? Array.from(msg.p) : null, version: 0,
          });
          this.on.overlay();
        }
        return;
      case "points": {
        const live = this.peerLive.get(msg.id);
        if (!live) return;
        for (const v of msg.pts) live.pts.push(v);
        if (live.p && msg.p) for (const v of msg.p) live.p.push(v);
        live.version += 1;
        this.on.overlay();
        return;
      }
      case "abort":
        if (this.peerLive.delete(msg.id)) this.on.overlay();
        return;
      case "cursor":
        if (msg.peer === this.me?.peer) return;
        if (msg.x === null || msg.x === undefined) this.cursors.delete(msg.peer);
        else this.cursors.set(msg.peer, { x: msg.x, y: msg.y });
        this.on.cursors();
        return;
      case "join":
        this.peers.set(msg.peer, { peer: msg.peer, name: String(msg.name), color: String(msg.color) });
        this.on.peers();
        this.on.cursors();
        return;
      case "leave":
        this.peers.delete(msg.peer);
        this.cursors.delete(msg.peer);
        for (const [id, live] of this.peerLive) if (live.peer === msg.peer) this.peerLive.delete(id);
        this.on.peers();
        this.on.cursors();
        this.on.overlay();
        return;
      case "ack":
        this.#settle(msg.id);
        this.on.overlay();
        return;
      case "error":
        if (msg.id && this.ownLive.has(msg.id)) {
          // The live preview was refused (e.g. too many live strokes): stop streaming it, and
          // send it whole when it ends, rather than collect an error per `points` message.
          this.ownLive.get(msg.id).liveRefused = true;
          return;
        }
        if (msg.id && this.endedLive.delete(msg.id) && this.pending.has(msg.id)) {
          // `end` of a live stroke the server no longer has: send the whole stroke once instead.
          if (this.ready) this.outbox.push(this.pending.get(msg.id));
          return;
        }
        if (msg.id && this.pending.has(msg.id)) {
          this.#settle(msg.id);
          this.on.overlay();
        }
        this.on.error(msg);
        return;
      default:
        return; // unknown messages are ignored, like unknown fields
    }
  }

  #welcome(msg) {
    this.me = { peer: msg.peer, author: msg.author };
    this.shareUrl = typeof msg.share_url === "string" ? msg.share_url : "";
    this.peers = new Map();
    for (const peer of msg.peers || []) this.peers.set(peer.peer, { ...peer });
    this.peers.set(msg.peer, { peer: msg.peer, name: msg.name, color: msg.color });
    if (msg.reset) {
      this.board.reset();
      this.on.reset();
    }
    this.ready = true;
    // Resend everything not yet acknowledged, in the order it was made, with its original id.
    this.outbox = [...this.pending.values()];
    this.on.welcome();
    this.on.peers();
  }

  /** An op of ours is committed, acknowledged or refused: stop resending it. */
  #settle(opId) {
    this.endedLive.delete(opId);
    if (!this.pending.delete(opId)) return;
    const ids = this.eraseTargets.get(opId);
    if (!ids) return;
    this.eraseTargets.delete(opId);
    const shown = [];
    for (const id of ids) {
      const count = (this.localHidden.get(id) || 1) - 1;
      if (count > 0) this.localHidden.set(id, count);
      else {
        this.localHidden.delete(id);
        shown.push(id);
      }
    }
    this.on.hidden(shown);
  }

  // --- the outgoing frame ---------------------------------------------------------------------

  /**
   * Send at most one frame holding everything queued since the last call (main calls this once
   * per animation frame). Returns true when something is still waiting (held or over budget).
   * @returns {boolean}
   */
  flush() {
    let waiting = false;
    if (!this.ready || !this.conn?.open) return this.pending.size > 0 && this.ready;
    const now = performance.now();
    for (const live of this.ownLive.values()) {
      if (live.holdUntil > now) waiting = true;
      else this.#emitLive(live);
    }
    if (this.cursor !== undefined) {
      this.outbox.push({ type: "cursor", x: this.cursor.x, y: this.cursor.y });
      this.cursor = undefined;
    }
    if (this.outbox.length === 0) return waiting;
    let count = 0;
    let bytes = 0;
    while (count < this.outbox.length && count < LIMITS.maxOpsPerFrame) {
      const size = estimateBytes(this.outbox[count]);
      if (count > 0 && bytes + size > LIMITS.frameBudgetBytes) break;
      bytes += size;
      count += 1;
    }
    // Stay under the server's bytes_per_second (a long offline session resends a lot).
    const elapsed = now - this.budgetTime;
    this.budgetTime = now;
    this.budgetBytes = Math.min(SEND_BURST_BYTES, this.budgetBytes + (elapsed / 1000) * SEND_BYTES_PER_SECOND);
    if (this.budgetBytes <= 0) return true;
    const messages = this.outbox.splice(0, count);
    const frame = encodeBatch(messages);
    this.budgetBytes -= frame.length;
    this.conn.send(frame);
    this.framesSent = (this.framesSent || 0) + 1;
    return waiting || this.outbox.length > 0;
  }

  #emitLive(live) {
    if (live.liveRefused) return;
    const points = live.pts.length >> 1;
    if (!live.begun) {
      const begin = { type: "begin", id: live.id, tool: live.tool, color: live.color, width: live.width, pts: live.pts.slice() };
      if (live.p) begin.p = live.p.slice();
      this.outbox.push(begin);
      live.begun = true;
      live.sentPoints = points;
    } else if (points > live.sentPoints) {
      const more = { type: "points", id: live.id, pts: live.pts.slice(live.sentPoints * 2) };
      if (live.p) more.p = live.p.slice(live.sentPoints);
      this.outbox.push(more);
      live.sentPoints = points;
    }
  }

  #commit(message) {
    this.pending.set(message.id, message);
    if (this.ready) this.outbox.push(message);
    return message.id;
  }

  // --- what tools and the UI do ----------------------------------------------------------------

  /**
   * Start a freehand stroke (pen, highlighter) at board point (x, y).
   * @param {{tool: string, color: string, width: number}} style
   * @param {number} x
   * @param {number} y
   * @param {number|null} pressure 0..1, or null when the device has none
   * @param {number} [holdMs] keep it local this long (touch: a pinch may still cancel it)
   * @returns {string} the stroke's id
   */
  beginStroke(style, x, y, pressure, holdMs = 0) {
    const id = newId();
    const qx = clampQuanta(quantise(x));
    const qy = clampQuanta(quantise(y));
    this.ownLive.set(id, {
      id, tool: style.tool, color: style.color, width: style.width,
      pts: [qx, qy], p: pressure === null ? null : [toPressure(pressure)], version: 0,
      lastX: qx, lastY: qy, begun: false, sentPoints: 0, holdUntil: performance.now() + holdMs,
    });
    this.on.overlay();
    return id;
  }

  /**
   * Add a point to a live stroke. A stroke at max_points_per_stroke is ended and continued as a
   * new one; the returned id is the stroke that now goes on.
   * @param {string} id
   * @param {number} x
   * @param {number} y
   * @param {number|null} pressure
   * @returns {string}
   */
  addPoint(id, x, y, pressure) {
    const live = this.ownLive.get(id);
    if (!live) return id;
    const qx = clampQuanta(quantise(x));
    const qy = clampQuanta(quantise(y));
    if (qx === live.lastX && qy === live.lastY) return id;
    if (live.pts.length >> 1 >= LIMITS.maxPointsPerStroke) {
      this.endStroke(id);
      const scale = LIMITS.coordScale;
      const lastPressure = live.p ? live.p[live.p.length - 1] / LIMITS.pressureScale : null;
      const next = this.beginStroke(live, live.lastX / scale, live.lastY / scale, lastPressure);
      return this.addPoint(next, x, y, pressure);
    }
    live.pts.push(qx - live.lastX, qy - live.lastY);
    if (live.p) live.p.push(toPressure(pressure ?? 0.5));
    live.lastX = qx;
    live.lastY = qy;
    live.version += 1;
    this.on.overlay();
    return id;
  }

  /** Make a live stroke go out now (e.g. a touch stroke proved not to be a pinch). */
  releaseHold(id) {
    const live = this.ownLive.get(id);
    if (live) live.holdUntil = 0;
  }

  /**
   * Finish a live stroke: it commits. Until it comes back with a seq it is kept for resending.
   * @param {string} id
   */
  endStroke(id) {
    const live = this.ownLive.get(id);
    if (!live) return;
    const whole = { type: "stroke", id, tool: live.tool, color: live.color, width: live.width, pts: live.pts };
    if (live.p) whole.p = live.p;
    const sentLive = this.ready && live.begun && !live.liveRefused;
    if (sentLive) this.#emitLive(live);
    this.ownLive.delete(id);
    this.pending.set(id, whole);
    if (sentLive) this.endedLive.add(id);
    if (this.ready) this.outbox.push(sentLive ? { type: "end", id } : whole);
    this.on.overlay();
  }

  /**
   * Abandon a live stroke if nobody has seen it yet; otherwise it is committed like any other.
   * @param {string} id
   */
  cancelStroke(id) {
    const live = this.ownLive.get(id);
    if (!live) return;
    if (live.begun) this.endStroke(id);
    else {
      this.ownLive.delete(id);
      this.on.overlay();
    }
  }

  /**
   * Commit a two-point shape (line, rect, ellipse) in one `stroke` message.
   * @param {{tool: string, color: string, width: number}} style
   * @param {number[]} from board point [x, y]
   * @param {number[]} to board point [x, y]
   * @returns {string}
   */
  commitShape(style, from, to) {
    if (!SHAPE_TOOLS.includes(style.tool)) throw new Error(`${style.tool} is not a shape`);
    const x0 = clampQuanta(quantise(from[0]));
    const y0 = clampQuanta(quantise(from[1]));
    const x1 = clampQuanta(quantise(to[0]));
    const y1 = clampQuanta(quantise(to[1]));
    const message = { type: "stroke", id: newId(), tool: style.tool, color: style.color, width: style.width, pts: [x0, y0, x1 - x0, y1 - y0] };
    this.#commit(message);
    this.on.overlay();
    return message.id;
  }

  /**
   * Hide strokes at once (the eraser touching them), before the erase is sent.
   * @param {string[]} ids
   */
  hideLocally(ids) {
    for (const id of ids) this.localHidden.set(id, (this.localHidden.get(id) || 0) + 1);
  }

  /**
   * Undo `hideLocally` (an eraser gesture that was cancelled).
   * @param {string[]} ids
   */
  unhideLocally(ids) {
    const shown = [];
    for (const id of ids) {
      const count = (this.localHidden.get(id) || 1) - 1;
      if (count > 0) this.localHidden.set(id, count);
      else if (this.localHidden.delete(id)) shown.push(id);
    }
    this.on.hidden(shown);
  }

  /**
   * Erase strokes (already hidden locally by the eraser): one `erase` op per max_erase_ids ids.
   * @param {string[]} ids
   */
  erase(ids) {
    for (let i = 0; i < ids.length; i += LIMITS.maxEraseIds) {
      const chunk = ids.slice(i, i + LIMITS.maxEraseIds);
      const message = { type: "erase", id: newId(), ids: chunk };
      this.eraseTargets.set(message.id, chunk);
      this.#commit(message);
    }
  }

  /** Hide every visible stroke (after the user confirmed). */
  clear() {
    this.#commit({ type: "clear", id: newId() });
  }

  /**
   * How many own actions could be undone and redone, counting what is still pending.
   * @returns {{undo: number, redo: number}}
   */
  history() {
    const author = this.me?.author;
    let undo = (author && this.board.undoStacks.get(author)?.length) || 0;
    let redo = (author && this.board.redoStacks.get(author)?.length) || 0;
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
   * Undo this client's most recent own action. Nothing is sent when there is nothing to undo:
   * each refused op counts toward max_errors_per_connection.
   */
  undo() {
    if (this.history().undo > 0) this.#commit({ type: "undo", id: newId() });
  }

  /** Redo this client's most recently undone action (if there is one). */
  redo() {
    if (this.history().redo > 0) this.#commit({ type: "redo", id: newId() });
  }

  /**
   * Move (or with nulls hide) our cursor; only the latest position of a frame is sent.
   * @param {number|null} x
   * @param {number|null} y
   */
  setCursor(x, y) {
    this.cursor = x === null ? { x: null, y: null } : { x: round2(x), y: round2(y) };
  }

  /**
   * Change our display name and colour (sent now if connected, else in the next hello).
   * @param {string} name
   * @param {string} color
   */
  rename(name, color) {
    this.identity.name = name;
    this.identity.color = color;
    if (this.ready) this.outbox.push({ type: "rename", name, color });
  }

  /**
   * Strokes to draw above the committed layer: our pending and live ones, peers' live ones.
   * @returns {object[]} op-shaped objects (tool, color, width, pts, p?)
   */
  overlayStrokes() {
    const out = [];
    for (const message of this.pending.values()) {
      if (message.type === "stroke" && !this.board.strokes.has(message.id) && !this.localHidden.has(message.id)) {
        out.push(message);
      }
    }
    for (const live of this.peerLive.values()) out.push(live);
    for (const live of this.ownLive.values()) out.push(live);
    return out;
  }
}

function clampQuanta(value) {
  const bound = LIMITS.maxCoord * LIMITS.coordScale;
  return Math.max(-bound, Math.min(bound, value));
}

function toPressure(value) {
  return Math.max(0, Math.min(LIMITS.pressureScale, Math.round(value * LIMITS.pressureScale)));
}

function round2(value) {
  return Math.round(value * 100) / 100;
}
