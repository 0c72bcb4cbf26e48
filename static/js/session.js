/**
 * One page's life on a board: its live strokes, what it asks the board to do, and the one frame
 * per animation frame it may send. Unacknowledged ops and their resending live in `outbox.js`;
 * peers, cursors and peers' live strokes in `peers.js`; the data of own live strokes in `live.js`.
 */
import { LIMITS } from "./limits.js";
import {
  appendPoint, isLastPoint, liveUpdate, moveLiveShape, newLiveShape, newLiveStroke, wholeStroke,
} from "./live.js";
import { Outbox } from "./outbox.js";
import { Presence } from "./peers.js";
import { Previews } from "./previews.js";
import {
  CLIENT_SUBPROTOCOL_PREFIX, newId, PROTOCOL_VERSION, SHAPE_TOOLS, SUBPROTOCOL,
} from "./protocol.js";

const COMMITTED_TYPES = new Set([
  "stroke", "erase", "clear", "undo", "redo", "text", "note", "image", "add", "transform", "z", "edit",
]);

/** Protocol state of this page: live strokes, the outbox, presence, local hiding. */
export class Session {
  #pageWanted = false;

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
    /** Where the board's images are served (welcome.media): no board id in it. */
    this.mediaBase = "";
    /** Text being typed and elements being moved, ours and peers' (previews.js). */
    this.previews = new Previews(board);
    /** @type {Map<string, object>} our draft or moving messages for the next frame, by op id */
    this.ownPreviews = new Map();
    /** @type {Set<string>} op ids of our drafts and moves the server has seen (this connection) */
    this.sentPreviews = new Set();
    /** @type {number|null} the board's seq when the last welcome came: the replay ends there */
    this.welcomeSeq = null;
    /** @type {string|null} names the board's history (Redis mode): sent back in the next hello */
    this.epoch = null;
    this.outbox = new Outbox();
    this.presence = new Presence();
    /** @type {Map<string, import("./live.js").LiveStroke>} */
    this.ownLive = new Map();
    /** @type {Map<string, number>} stroke id -> pending erases hiding it locally */
    this.localHidden = new Map();
    /** @type {Map<string, string[]>} pending erase op id -> stroke ids */
    this.eraseTargets = new Map();
    /** A view-only page (a `/v/<token>` link): it sends no cursor, rename or op. */
    this.viewOnly = false;
    /** Callbacks set by main: board changes, overlays, peers, errors, welcome; `event` gets the
     * messages this module does not handle (presenting's `lead` and `laser`). */
    this.on = {
      change: (_change) => {}, overlay: () => {}, peers: () => {}, cursors: () => {},
      error: (_message) => {}, welcome: () => {}, reset: () => {}, hidden: (_ids) => {},
      previews: () => {}, event: (_message) => {},
    };
  }

  // Read-only views for main.js, tools and the test hook.
  /** @returns {Map<string, object>} op id -> the whole message, until committed or refused */
  get pending() { return this.outbox.pending; }
  /** @returns {Map<number, import("./peers.js").Peer>} */
  get peers() { return this.presence.peers; }
  /** @returns {Map<number, {x: number, y: number}>} */
  get cursors() { return this.presence.cursors; }
  /** @returns {Map<string, object>} peers' live strokes by id */
  get peerLive() { return this.presence.live; }
  /** @returns {number} frames sent so far */
  get framesSent() { return this.outbox.framesSent; }

  // --- connection events ------------------------------------------------------------------------

  /**
   * Where to open the socket: the hello rides in its URL, with the last seq applied so the replay
   * holds only news, and the server answers the handshake with the welcome (no round trip). The
   * secret client id goes in a subprotocol, a header: URLs end up in proxies' logs.
   * @param {string} socketUrl  ws:// or wss:// URL of the board's socket
   * @returns {{url: string, protocols: string[]}}
   */
  address(socketUrl) {
    const { client, name, color } = this.identity;
    const since = this.board.seq || null;
    const query = new URLSearchParams({ v: String(PROTOCOL_VERSION), name, color });
    if (since) {
      query.set("since", String(since));
      if (this.epoch) query.set("epoch", this.epoch); // the history our seq counts in
    }
    return { url: `${socketUrl}?${query}`, protocols: [SUBPROTOCOL, CLIENT_SUBPROTOCOL_PREFIX + client] };
  }

  /** The socket closed: live strokes must be begun again on the next connection. */
  onClose() {
    this.ready = false;
    this.outbox.disconnected(); // pending strokes are resent whole on the next connection
    for (const live of this.ownLive.values()) {
      live.begun = false;
      live.sentPoints = 0;
    }
    this.presence.disconnected(this.me?.peer ?? null);
    this.previews.dropPeers();
    this.sentPreviews.clear();
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
      const previewed = this.previews.end(msg.id);
      const change = this.board.apply(msg);
      if (type === "stroke") this.presence.live.delete(msg.id);
      if (change) this.on.change(change, msg);
      if (type === "stroke" || previewed) this.on.overlay();
      if (previewed) this.on.previews();
      return;
    }
    switch (type) {
      case "welcome": return this.#welcome(msg);
      case "snapshot": {
        // Replaces the board (part 0) with the state at msg.seq; committed ops follow.
        const change = this.board.loadSnapshot(msg);
        if (msg.part === 0) this.on.reset();
        this.on.change(change, msg);
        return;
      }
      case "begin":
        if (!this.board.strokes.has(msg.id)) {
          this.presence.beginLive(msg);
          this.on.overlay();
        }
        return;
      case "points":
        if (this.presence.addLivePoints(msg)) this.on.overlay();
        return;
      case "abort":
        if (this.presence.live.delete(msg.id)) this.on.overlay();
        if (this.previews.end(msg.id)) this.on.previews();
        return;
      case "draft":
        if (msg.peer !== this.me?.peer && !this.board.strokes.has(msg.id)) {
          this.previews.draft(msg);
          this.on.previews();
        }
        return;
      case "moving":
        if (msg.peer !== this.me?.peer) {
          this.previews.moving(msg);
          this.on.previews();
        }
        return;
      case "cursors":
        this.presence.moveCursors(msg, this.me?.peer ?? null, performance.now());
        this.on.cursors();
        return;
      case "presence":
        this.presence.summary(msg, this.me?.peer ?? null);
        this.on.peers();
        this.on.cursors();
        this.on.overlay();
        return;
      case "peers":
        this.presence.page(msg);
        this.on.peers();
        return;
      case "join":
        this.presence.join(msg);
        this.on.peers();
        this.on.cursors();
        return;
      case "leave":
        this.presence.leave(msg.peer);
        this.previews.leave(msg.peer);
        this.on.previews();
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
        if (msg.id && this.outbox.endedLive.delete(msg.id) && this.pending.has(msg.id)) {
          // `end` of a live stroke the server no longer has: send the whole stroke once instead.
          if (this.ready) this.outbox.queue.push(this.pending.get(msg.id));
          return;
        }
        if (msg.id && this.pending.has(msg.id)) {
          this.#settle(msg.id);
          this.on.overlay();
        }
        if (msg.id && this.previews.end(msg.id)) this.on.previews();
        this.on.error(msg);
        return;
      default:
        this.on.event(msg); // main passes on what it knows, and ignores the rest
        return;
    }
  }

  #welcome(msg) {
    this.me = { peer: msg.peer, author: msg.author };
    this.welcomeSeq = typeof msg.seq === "number" ? msg.seq : 0;
    this.epoch = typeof msg.epoch === "string" ? msg.epoch : null;
    this.shareUrl = typeof msg.share_url === "string" ? msg.share_url : "";
    this.mediaBase = typeof msg.media === "string" ? msg.media : "";
    this.presence.welcome(msg);
    if (msg.reset) {
      this.board.reset();
      this.on.reset();
    }
    this.ready = true;
    this.outbox.resendPending();
    this.on.welcome(msg);
    this.on.peers();
  }

  /** An op of ours is committed, acknowledged or refused: stop resending it. */
  #settle(opId) {
    this.sentPreviews.delete(opId);
    this.ownPreviews.delete(opId);
    if (this.previews.end(opId)) this.on.previews();
    if (!this.outbox.settle(opId)) return;
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
   * per animation frame). Returns true when something is still waiting (over the frame's size
   * or the byte budget).
   * @returns {boolean}
   */
  flush() {
    if (!this.ready || !this.conn?.open) return this.pending.size > 0 && this.ready;
    const now = performance.now();
    for (const live of this.ownLive.values()) this.#emitLive(live);
    for (const message of this.ownPreviews.values()) {
      this.outbox.queue.push(message);
      this.sentPreviews.add(message.id);
    }
    this.ownPreviews.clear();
    const cursor = this.presence.takeOwnCursor();
    if (cursor) this.outbox.queue.push(cursor);
    if (this.#pageWanted) {
      this.#pageWanted = false;
      const request = this.presence.takePageRequest();
      if (request) this.outbox.queue.push(request);
    }
    return this.outbox.send(this.conn, now);
  }

  #emitLive(live) {
    const update = liveUpdate(live);
    if (update) this.outbox.queue.push(update);
  }

  #commit(message) {
    this.outbox.commit(message, this.ready);
    return message.id;
  }

  // --- what tools and the UI do ----------------------------------------------------------------

  /**
   * Start a freehand stroke (pen, highlighter) at board point (x, y).
   * @param {{tool: string, color: string, width: number}} style
   * @param {number} x
   * @param {number} y
   * @param {number|null} pressure 0..1, or null when the device has none
   * @returns {string} the stroke's id
   */
  beginStroke(style, x, y, pressure) {
    const live = newLiveStroke(style, x, y, pressure);
    this.ownLive.set(live.id, live);
    this.on.overlay();
    return live.id;
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
    if (isLastPoint(live, x, y)) return id;
    if (live.pts.length >> 1 >= LIMITS.maxPointsPerStroke) {
      const scale = LIMITS.coordScale;
      this.endStroke(id);
      const lastPressure = live.p ? live.p[live.p.length - 1] / LIMITS.pressureScale : null;
      const next = this.beginStroke(live, live.lastX / scale, live.lastY / scale, lastPressure);
      return this.addPoint(next, x, y, pressure);
    }
    if (appendPoint(live, x, y, pressure)) this.on.overlay();
    return id;
  }

  /**
   * Finish a live stroke: it commits. Until it comes back with a seq it is kept for resending.
   * @param {string} id
   */
  endStroke(id) {
    const live = this.ownLive.get(id);
    if (!live) return;
    const whole = wholeStroke(live);
    const sentLive = this.ready && live.begun && !live.liveRefused;
    if (sentLive) this.#emitLive(live);
    this.ownLive.delete(id);
    this.outbox.keep(whole);
    if (sentLive) this.outbox.endedLive.add(id);
    if (this.ready) this.outbox.queue.push(sentLive ? { type: "end", id } : whole);
    this.on.overlay();
  }

  /**
   * Drop a live stroke without committing it (a touch stroke that turned into a pinch, a
   * cancelled pointer). Others saw it grow, so they get an `abort` in the next frame; it was
   * never pending, so a reconnect does not bring it back.
   * @param {string} id
   */
  abortStroke(id) {
    const live = this.ownLive.get(id);
    if (!live) return;
    this.ownLive.delete(id);
    // `begun` is per connection: after a reconnect the server already dropped the old preview.
    if (this.ready && live.begun && !live.liveRefused) this.outbox.queue.push({ type: "abort", id });
    this.on.overlay();
  }

  /**
   * Start dragging a two-point shape (line, rect, ellipse): others see it change while dragged.
   * @param {{tool: string, color: string, width: number}} style
   * @param {number[]} from board point [x, y]
   * @param {number[]} to board point [x, y]
   * @returns {string} the shape's id
   */
  beginShape(style, from, to) {
    if (!SHAPE_TOOLS.includes(style.tool)) throw new Error(`${style.tool} is not a shape`);
    const live = newLiveShape(style, from, to);
    this.ownLive.set(live.id, live);
    this.on.overlay();
    return live.id;
  }

  /**
   * Move the dragged corner of a shape; only its latest form in a frame is sent.
   * @param {string} id
   * @param {number[]} to board point [x, y]
   */
  moveShape(id, to) {
    const live = this.ownLive.get(id);
    if (live?.shape && moveLiveShape(live, to)) this.on.overlay();
  }

  /**
   * Release a shape: it commits as one whole `stroke` (which also ends its preview for others).
   * @param {string} id
   * @param {number[]} to board point [x, y]
   */
  endShape(id, to) {
    const live = this.ownLive.get(id);
    if (!live?.shape) return;
    moveLiveShape(live, to);
    this.ownLive.delete(id);
    this.#commit(wholeStroke(live));
    this.on.overlay();
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

  /**
   * Make an op kept by an earlier page of this board pending again (offline.js), as if just made:
   * it is resent with its original id after the next welcome.
   * @param {object} message
   */
  restore(message) {
    if (this.pending.has(message.id)) return;
    if (message.type === "erase") {
      this.hideLocally(message.ids);
      this.eraseTargets.set(message.id, message.ids);
    }
    this.#commit(message);
    this.on.overlay();
  }

  // --- elements: text, notes, images, moves ---------------------------------------------------

  /**
   * Commit an element op (`text`, `note`, `image`, `add`, `transform`, `z`, `edit`) built by a
   * tool; `id` is its op id (a draft or move preview with that id ends when it is committed).
   * @param {object} message
   * @returns {string} its op id
   */
  commitElementOp(message) {
    const id = message.id ?? newId();
    this.ownPreviews.delete(id); // a draft or move not yet sent must not follow its commit
    this.#commit({ ...message, id });
    this.on.overlay();
    return id;
  }

  /**
   * Show others the text being typed (and show it here until it is committed or dropped).
   * @param {object} draft  `{id, kind, x, y, size, color, text, m?, target?}`
   */
  draft(draft) {
    this.previews.draft({ ...draft, peer: null });
    this.ownPreviews.set(draft.id, { type: "draft", ...draft });
    this.on.previews();
  }

  /**
   * Show others elements being dragged or resized: `m` on top of their placements.
   * @param {string} id  the op id the committing `transform` will use
   * @param {string[]} ids
   * @param {number[]} m
   */
  moving(id, ids, m) {
    this.previews.moving({ id, ids, m });
    this.ownPreviews.set(id, { type: "moving", id, ids, m });
    this.on.previews();
  }

  /**
   * Drop a draft or move without committing it; others get an `abort`.
   * @param {string} id
   */
  dropPreview(id) {
    this.ownPreviews.delete(id);
    const sent = this.sentPreviews.delete(id);
    if (this.previews.end(id)) this.on.previews();
    if (sent && this.ready) this.outbox.queue.push({ type: "abort", id });
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
    const undo = (author && this.board.undoStacks.get(author)?.length) || 0;
    const redo = (author && this.board.redoStacks.get(author)?.length) || 0;
    return this.outbox.history(undo, redo);
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
   * Ask for the next page of the participant list (a large room lists only some people in the
   * welcome); it is sent with the next frame, once, and answered to us alone.
   */
  morePeers() {
    this.#pageWanted = true;
  }

  /**
   * Move (or with nulls hide) our cursor; only the latest position of a frame is sent.
   * @param {number|null} x
   * @param {number|null} y
   */
  setCursor(x, y) {
    if (!this.viewOnly) this.presence.setOwnCursor(x, y);
  }

  /**
   * Queue an ephemeral message (presenting's `lead`, `laser`) for the next frame; dropped, and
   * false returned, while not connected: it would be stale by then.
   * @param {object} message
   * @returns {boolean}
   */
  sendEphemeral(message) {
    if (!this.ready || this.viewOnly) return false;
    this.outbox.queue.push(message);
    return true;
  }

  /**
   * Change our display name and colour (sent now if connected, else in the next hello).
   * @param {string} name
   * @param {string} color
   */
  rename(name, color) {
    this.identity.name = name;
    this.identity.color = color;
    if (this.ready && !this.viewOnly) this.outbox.queue.push({ type: "rename", name, color });
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
    for (const live of this.presence.live.values()) out.push(live);
    for (const live of this.ownLive.values()) out.push(live);
    return out;
  }
}
