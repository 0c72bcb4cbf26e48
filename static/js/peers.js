/**
 * Who else is on the board, as the server tells it: peers (name, colour, author), the room's
 * counts, their cursors and their live strokes; and our own latest cursor position, waiting for
 * the next frame. Nothing here is logged: it is all rebuilt from the next welcome after a
 * reconnect.
 *
 * A small room tells every join, leave and rename as it happens. A large room (a talk) sends
 * `presence` summaries a few times a second with the counts and a bounded list of changes, lists
 * only some peers in the welcome (the rest come page by page with `peers`), and sends cursors
 * of a bounded number of peers at a bounded rate (docs/protocol.md, "Presence").
 */

/**
 * @typedef {object} Peer
 * @property {number} peer
 * @property {string} name
 * @property {string} color
 * @property {string} [author] the same for every tab of one browser
 */

/** In a large room a cursor the server stopped sending (someone else moved) fades out. */
const LARGE_ROOM_CURSOR_TTL_MS = 3000;

/** Peers, counts, their cursors and live strokes. */
export class Presence {
  constructor() {
    /** @type {Map<number, Peer>} */
    this.peers = new Map();
    /** @type {Map<number, {x: number, y: number, at: number}>} */
    this.cursors = new Map();
    /** @type {Map<string, object>} peers' live strokes by id: peer, tool, color, width, pts, p */
    this.live = new Map();
    /** @type {{x: number|null, y: number|null}|undefined} our latest cursor, not yet sent */
    this.ownCursor = undefined;
    /** Connections on the board (ourselves included), and distinct people (authors). */
    this.count = 1;
    this.people = 1;
    this.large = false;
    /** @type {number|null} the peer to ask the next page after; null: the list is complete */
    this.nextPage = null;
    /** @type {number|null} the page asked for and not answered yet */
    this.pageAsked = null;
  }

  /**
   * A welcome lists everyone on the board (a small room) or the first of them (a large one).
   * @param {{peer: number, name: string, color: string, author: string, peers?: Peer[],
   *   count?: number, people?: number, large?: boolean, next?: number|null}} msg
   */
  welcome(msg) {
    this.peers = new Map();
    for (const peer of msg.peers || []) this.#set(peer);
    this.peers.set(msg.peer, { peer: msg.peer, name: msg.name, color: msg.color, author: msg.author });
    this.large = Boolean(msg.large);
    this.count = msg.count ?? this.peers.size;
    this.people = msg.people ?? this.#authors();
    this.nextPage = msg.next ?? null;
    this.pageAsked = null;
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
    this.count = this.people = 1;
    this.nextPage = this.pageAsked = null;
  }

  /** @param {Peer} msg  a peer connected, renamed, or is introduced before it is shown */
  join(msg) {
    this.#set(msg);
    if (!this.large) {
      this.count = this.peers.size;
      this.people = this.#authors();
    }
  }

  /** @param {number} peer  disconnected: its cursor and live strokes go with it */
  leave(peer) {
    this.#forget(peer);
    if (!this.large) {
      this.count = this.peers.size;
      this.people = this.#authors();
    }
  }

  /**
   * A large room's summary: counts, who joined or renamed, who left. `peers`, when present,
   * is the whole list (the room became small again).
   * @param {{count: number, people: number, large: boolean, joined?: Peer[], left?: number[],
   *   peers?: Peer[], complete?: boolean}} msg
   * @param {number|null} myPeer
   */
  summary(msg, myPeer) {
    if (Array.isArray(msg.peers)) {
      const listed = new Set(msg.peers.map((p) => p.peer));
      for (const peer of [...this.peers.keys()]) {
        if (peer !== myPeer && !listed.has(peer)) this.#forget(peer);
      }
    }
    for (const peer of msg.peers || []) this.#set(peer);
    for (const peer of msg.joined || []) this.#set(peer);
    for (const peer of msg.left || []) this.#forget(peer);
    this.count = msg.count;
    this.people = msg.people;
    this.large = Boolean(msg.large);
    // Not every change was listed: what we hold may have gaps. The list can be asked for again
    // from its start (pages are merged by peer, so nothing shows twice).
    if (msg.complete === false && this.nextPage === null) this.nextPage = 0;
  }

  /**
   * A page of the participant list we asked for.
   * @param {{peers: Peer[], after: number, next: number|null, count: number, people: number}} msg
   */
  page(msg) {
    for (const peer of msg.peers || []) this.#set(peer);
    this.nextPage = msg.next ?? null;
    this.pageAsked = null;
    this.count = msg.count;
    this.people = msg.people;
  }

  /**
   * The `peers` request for the next page, once (null when the list is complete or asked for).
   * @returns {object|null}
   */
  takePageRequest() {
    if (this.nextPage === null || this.pageAsked !== null) return null;
    this.pageAsked = this.nextPage;
    return { type: "peers", after: this.nextPage };
  }

  /**
   * Peers' cursors: `c` is [peer, x, y, ...] in board units; `hide` the cursors that are gone.
   * @param {{c?: number[], hide?: number[]}} msg
   * @param {number|null} myPeer
   * @param {number} now  performance.now()
   */
  moveCursors(msg, myPeer, now) {
    const flat = msg.c || [];
    for (let i = 0; i + 2 < flat.length; i += 3) {
      if (flat[i] !== myPeer) this.cursors.set(flat[i], { x: flat[i + 1], y: flat[i + 2], at: now });
    }
    for (const peer of msg.hide || []) this.cursors.delete(peer);
  }

  /**
   * Drop cursors a large room stopped sending.
   * @param {number} now performance.now()
   * @returns {boolean} some were dropped
   */
  expireCursors(now) {
    if (!this.large) return false;
    let dropped = false;
    for (const [peer, cursor] of this.cursors) {
      if (now - cursor.at > LARGE_ROOM_CURSOR_TTL_MS) dropped = this.cursors.delete(peer);
    }
    return dropped;
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

  #set(peer) {
    this.peers.set(peer.peer, {
      peer: peer.peer, name: String(peer.name), color: String(peer.color),
      author: typeof peer.author === "string" ? peer.author : `peer-${peer.peer}`,
    });
  }

  #forget(peer) {
    this.peers.delete(peer);
    this.cursors.delete(peer);
    for (const [id, live] of this.live) if (live.peer === peer) this.live.delete(id);
  }

  #authors() {
    return new Set([...this.peers.values()].map((p) => p.author)).size;
  }
}

/**
 * Connections grouped into people: one entry per author (one browser), with its tab count.
 * Ourselves first, then in joining order.
 * @param {Map<number, Peer>} peers
 * @param {number|null} myPeer
 * @returns {{peer: number, name: string, color: string, author: string, tabs: number, me: boolean}[]}
 */
export function groupByAuthor(peers, myPeer) {
  const myAuthor = myPeer !== null ? peers.get(myPeer)?.author : undefined;
  /** @type {Map<string, {peer: number, name: string, color: string, author: string, tabs: number, me: boolean}>} */
  const people = new Map();
  for (const peer of peers.values()) {
    const key = peer.author || `peer-${peer.peer}`;
    const me = key === myAuthor;
    const entry = people.get(key);
    if (!entry) {
      people.set(key, { ...peer, author: key, tabs: 1, me });
    } else {
      entry.tabs += 1;
      if (peer.peer === myPeer || (!entry.me && peer.peer > entry.peer)) {
        Object.assign(entry, { peer: peer.peer, name: peer.name, color: peer.color }); // latest tab names it
      }
    }
  }
  return [...people.values()].sort((a, b) => (a.me ? -1 : b.me ? 1 : a.peer - b.peer));
}

function round2(value) {
  return Math.round(value * 100) / 100;
}
