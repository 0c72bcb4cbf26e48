/**
 * Unacknowledged ops kept in the browser, per board, so ink drawn while the server is unreachable
 * survives closing or reloading the tab: they are resent, in order, on the next load of that board
 * (op ids make a resend idempotent, so "resent" never means "stored twice").
 *
 * IndexedDB holds them (one record per op); where it is missing or refuses, localStorage (one
 * JSON list per board). An op that could be stored in neither is "unsaved": only then does
 * closing the page warn (`beforeunload`).
 *
 * Strokes are safe to resend late. Destructive ops (clear, undo, redo, erasing strokes others
 * drew) kept longer than `LIMITS.offlineConfirmAfterMs` wait for the user to confirm, with every
 * op after them (so the order stays): a week-old `clear` must not wipe a week of others' work.
 */
import { LIMITS } from "./limits.js";

const DB_NAME = "whiteboard";
const DB_VERSION = 1;
const STORE = "pending";
const LOCAL_PREFIX = "whiteboard.pending.";
/** How long opening IndexedDB may take before the page goes on with localStorage. */
const OPEN_TIMEOUT_MS = 2000;

/**
 * @typedef {object} KeptOp
 * @property {string} board   the board's memory key (`b:<id>`)
 * @property {string} id      the op id
 * @property {object} message the whole message, as it is resent
 * @property {number} storedAt ms since the epoch
 * @property {number} order   ascending within a board
 * @property {boolean} destructive  clear, undo, redo, or an erase of others' strokes
 */

/** @returns {Promise<IDBDatabase|null>} null where IndexedDB is missing or refuses */
function openDatabase() {
  return new Promise((resolve) => {
    let request;
    try {
      request = globalThis.indexedDB?.open(DB_NAME, DB_VERSION);
    } catch {
      request = null;
    }
    if (!request) {
      resolve(null);
      return;
    }
    const timer = setTimeout(() => resolve(null), OPEN_TIMEOUT_MS);
    request.onupgradeneeded = () => {
      const store = request.result.createObjectStore(STORE, { keyPath: ["board", "id"] });
      store.createIndex("board", "board");
    };
    request.onsuccess = () => {
      clearTimeout(timer);
      resolve(request.result);
    };
    request.onerror = () => {
      clearTimeout(timer);
      resolve(null);
    };
    request.onblocked = () => {
      clearTimeout(timer);
      resolve(null);
    };
  });
}

/**
 * @param {IDBRequest|IDBTransaction} target
 * @returns {Promise<any>}
 */
function done(target) {
  return new Promise((resolve, reject) => {
    if ("oncomplete" in target) {
      target.oncomplete = () => resolve(undefined);
      target.onabort = () => reject(target.error);
    } else {
      target.onsuccess = () => resolve(target.result);
    }
    target.onerror = () => reject(target.error);
  });
}

/** The ops of one board not yet acknowledged, kept across page loads. */
export class OfflineStore {
  /**
   * @param {string} board  the board's memory key
   * @param {function(object): boolean} isDestructive
   */
  constructor(board, isDestructive) {
    this.board = board;
    this.isDestructive = isDestructive;
    /** @type {IDBDatabase|null} */
    this.db = null;
    /** @type {Map<string, KeptOp>} what is kept (or being written) now, by op id */
    this.kept = new Map();
    /** @type {Set<string>} ops not (yet) safely stored: closing the page would lose them */
    this.unsaved = new Set();
    this.nextOrder = Date.now() * 1000;
  }

  /**
   * Open the store and read what earlier pages kept for this board.
   * @returns {Promise<KeptOp[]>} in the order they were made
   */
  async open() {
    this.db = await openDatabase();
    let records = [];
    if (this.db) {
      try {
        const index = this.db.transaction(STORE).objectStore(STORE).index("board");
        records = await done(index.getAll(this.board));
      } catch {
        this.db = null;
      }
    }
    if (!this.db) records = this.#readLocal();
    records = records.filter((r) => r && r.message && typeof r.id === "string");
    records.sort((a, b) => a.order - b.order);
    for (const record of records) {
      this.kept.set(record.id, record);
      this.nextOrder = Math.max(this.nextOrder, record.order + 1);
    }
    return records;
  }

  /**
   * Keep an op until it is settled. An op kept already (restored from an earlier page) keeps its
   * original time, so its age is its real age.
   * @param {object} message  with its op id in `id`
   */
  put(message) {
    if (this.kept.has(message.id)) return;
    const record = {
      board: this.board, id: message.id, message, storedAt: Date.now(), order: this.nextOrder++,
      destructive: this.isDestructive(message),
    };
    this.kept.set(message.id, record);
    this.unsaved.add(message.id);
    this.#write(record).then(
      (stored) => { if (stored) this.unsaved.delete(message.id); },
      () => {},
    );
  }

  /**
   * The op is committed, acknowledged or refused: forget it.
   * @param {string} opId
   */
  remove(opId) {
    if (!this.kept.delete(opId)) return;
    this.unsaved.delete(opId);
    if (this.db) {
      try {
        this.db.transaction(STORE, "readwrite").objectStore(STORE).delete([this.board, opId]);
      } catch {
        // the record stays and is resent once more on the next load: op ids make that harmless
      }
    } else {
      this.#writeLocal();
    }
  }

  /**
   * @param {KeptOp} record
   * @returns {Promise<boolean>} stored
   */
  async #write(record) {
    if (this.db) {
      try {
        const tx = this.db.transaction(STORE, "readwrite");
        tx.objectStore(STORE).put(record);
        await done(tx);
        return true;
      } catch {
        return false;
      }
    }
    return this.#writeLocal();
  }

  #readLocal() {
    try {
      const list = JSON.parse(localStorage.getItem(LOCAL_PREFIX + this.board) || "[]");
      return Array.isArray(list) ? list : [];
    } catch {
      return [];
    }
  }

  #writeLocal() {
    try {
      const key = LOCAL_PREFIX + this.board;
      if (this.kept.size === 0) localStorage.removeItem(key);
      else localStorage.setItem(key, JSON.stringify([...this.kept.values()]));
      this.unsaved.clear();
      return true;
    } catch {
      return false; // quota or storage disabled
    }
  }
}

/**
 * Split what earlier pages kept into what is resent now and what waits for the user: everything
 * from the first destructive op older than `LIMITS.offlineConfirmAfterMs` on.
 * @param {KeptOp[]} records  in order
 * @param {number} now
 * @returns {{now: KeptOp[], held: KeptOp[]}}
 */
export function splitStale(records, now = Date.now()) {
  const first = records.findIndex((r) => r.destructive && isStale(r, now));
  if (first < 0) return { now: records, held: [] };
  return { now: records.slice(0, first), held: records.slice(first) };
}

/**
 * @param {KeptOp} record
 * @param {number} [now]
 * @returns {boolean} kept longer than `LIMITS.offlineConfirmAfterMs`
 */
export function isStale(record, now = Date.now()) {
  return now - record.storedAt > LIMITS.offlineConfirmAfterMs;
}

/**
 * What a list of held ops would do, in words: "2 strokes, a clear and an undo".
 * @param {KeptOp[]} held
 * @returns {string}
 */
export function describeHeld(held) {
  const counts = new Map();
  for (const r of held) {
    const kind = r.message.type === "erase" ? "erase" : r.message.type;
    counts.set(kind, (counts.get(kind) || 0) + 1);
  }
  const names = { stroke: ["a stroke", "strokes"], erase: ["an erase", "erases"], clear: ["a clear", "clears"],
    undo: ["an undo", "undos"], redo: ["a redo", "redos"] };
  const parts = [...counts].map(([kind, n]) => (n === 1 ? names[kind][0] : `${n} ${names[kind][1]}`));
  return parts.length > 1 ? `${parts.slice(0, -1).join(", ")} and ${parts[parts.length - 1]}` : parts[0] || "";
}
