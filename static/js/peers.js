/**
 * Who else is on the board, as the server tells it: peers (name, colour), their cursors and
 * their live strokes; and our own latest cursor position, waiting for the next frame. Nothing
 * here is logged: it is all rebuilt from the next welcome after a reconnect.
 */

/**
 * @typedef {object} Peer
 * @property {number} peer
 * @property {string} name
 * @property {string} color
 */

/** Peers, their cursors and live strokes. */
export class Presence {
  constructor() {
    /** @type {Map<number, Peer>} */
    this.peers = new Map();
    /** @type {Map<number, {x: number, y: number}>} */
    this.cursors = new Map();
    /** @type {Map<string, object>} peers' live strokes by id: peer, tool, color, width, pts, p */
    this.live = new Map();
    /** @type {{x: number|null, y: number|null}|undefined} our latest cursor, not yet sent */
    this.ownCursor = undefined;
  }

  /**
   * A welcome lists everyone on the board, us included.
   * @param {{peer: number, name: string, color: string, peers?: Peer[]}} msg
   */
  welcome(msg) {
    this.peers = new Map();
    for (const peer of msg.peers || []) this.peers.set(peer.peer, { ...peer });
    this.peers.set(msg.peer, { peer: msg.peer, name: msg.name, color: msg.color });
  }

  /**
   * The socket closed: who else is here is unknown until the next welcome; keep only ourselves.
   * @param {number|null} myPeer
   */
  disconnected(myPeer) {
    this.live.clear();
    this.cursors.clear();
    const mine = myPeer !== null && this.peers.get(myPeer);
    this.peers = mine ? new Map([[mine.peer, mine]]) : new Map();
  }

  /** @param {{peer: number, name: unknown, color: unknown}} msg  a peer connected or renamed */
  join(msg) {
    this.peers.set(msg.peer, { peer: msg.peer, name: String(msg.name), color: String(msg.color) });
  }

  /** @param {number} peer  disconnected: its cursor and live strokes go with it */
  leave(peer) {
    this.peers.delete(peer);
    this.cursors.delete(peer);
    for (const [id, live] of this.live) if (live.peer === peer) this.live.delete(id);
  }

  /** @param {{peer: number, x: number|null, y: number|null}} msg  a peer's cursor (nil: hidden) */
  moveCursor(msg) {
    if (msg.x === null || msg.x === undefined) this.cursors.delete(msg.peer);
    else this.cursors.set(msg.peer, { x: msg.x, y: msg.y });
  }

  /** @param {object} msg  a peer's `begin` */
  beginLive(msg) {
    this.live.set(msg.id, {
      peer: msg.peer, tool: msg.tool, color: msg.color, width: msg.width,
      pts: Array.from(msg.pts), p: msg.p ? Array.from(msg.p) : null, version: 0,
    });
  }

  /**
   * @param {object} msg  a peer's `points`
   * @returns {boolean} the stroke is known (and grew)
   */
  addLivePoints(msg) {
    const live = this.live.get(msg.id);
    if (!live) return false;
    for (const v of msg.pts) live.pts.push(v);
    if (live.p && msg.p) for (const v of msg.p) live.p.push(v);
    live.version += 1;
    return true;
  }

  /**
   * Move (or with nulls hide) our cursor; only the latest position of a frame is sent.
   * @param {number|null} x
   * @param {number|null} y
   */
  setOwnCursor(x, y) {
    this.ownCursor = x === null ? { x: null, y: null } : { x: round2(x), y: round2(y) };
  }

  /** @returns {object|null} the `cursor` message for this frame, if our cursor moved */
  takeOwnCursor() {
    if (this.ownCursor === undefined) return null;
    const message = { type: "cursor", x: this.ownCursor.x, y: this.ownCursor.y };
    this.ownCursor = undefined;
    return message;
  }
}

function round2(value) {
  return Math.round(value * 100) / 100;
}
