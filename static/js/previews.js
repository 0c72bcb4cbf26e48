/**
 * Elements seen before they are committed: text being typed (`draft`) and elements being dragged
 * or resized (`moving`), ours and peers', and our own element ops not yet committed. Each becomes
 * an overlay element (committed.js `elementOf` shape) drawn above the committed layer, and the
 * elements it stands for are hidden there meanwhile, so nothing shows twice.
 *
 * A preview ends when the op with its id is committed, or with an `abort` (its author aborted it,
 * left, or the server refused it). Ours also end when the op is refused.
 */
import { elementOf } from "./committed.js";
import { textMeasure } from "./board.js";
import { compose, IDENTITY, placeBox } from "./placement.js";
import { noteBox, textBox, textLines } from "./text.js";

const ELEMENT_TYPES = new Set(["text", "note", "image"]);

/** Drafts and moves in progress, by op id. */
export class Previews {
  /** @param {import("./board.js").Board} board */
  constructor(board) {
    this.board = board;
    /** @type {Map<string, object>} op id -> draft message (peer's or ours) */
    this.drafts = new Map();
    /** @type {Map<string, {peer: number|null, ids: string[], m: number[], version: number}>} */
    this.moves = new Map();
    /** @type {Map<string, {key: string, elements: object[]}>} built overlays of moves */
    this.built = new Map();
    this.version = 0;
  }

  /** @param {object} msg  a `draft` (peer: msg.peer set; ours: null) */
  draft(msg) {
    this.drafts.set(msg.id, msg);
    this.version += 1;
  }

  /** @param {{id: string, ids: string[], m: number[], peer?: number}} msg */
  moving(msg) {
    const old = this.moves.get(msg.id);
    this.moves.set(msg.id, { peer: msg.peer ?? null, ids: msg.ids, m: Array.from(msg.m, Number), version: (old?.version ?? 0) + 1 });
    this.version += 1;
  }

  /**
   * The op `id` was committed or aborted: its preview ends.
   * @param {string} id
   * @returns {boolean} a preview ended
   */
  end(id) {
    const ended = this.drafts.delete(id) | this.moves.delete(id);
    this.built.delete(id);
    if (ended) this.version += 1;
    return !!ended;
  }

  /** @param {number} peer  who left: their previews end */
  leave(peer) {
    for (const [id, draft] of this.drafts) if (draft.peer === peer) this.end(id);
    for (const [id, move] of this.moves) if (move.peer === peer) this.end(id);
  }

  /** After a reconnect the server has none of the peers' previews. */
  dropPeers() {
    for (const [id, draft] of this.drafts) if (draft.peer !== null && draft.peer !== undefined) this.end(id);
    for (const [id, move] of this.moves) if (move.peer !== null) this.end(id);
  }

  /**
   * @param {string} id  an element id
   * @returns {boolean} a preview stands for it (moved, or its text being edited)
   */
  hides(id) {
    for (const move of this.moves.values()) if (move.ids.includes(id)) return true;
    for (const draft of this.drafts.values()) if (draft.target === id) return true;
    return false;
  }

  /** @returns {string[]} every element id a preview stands for */
  hiddenIds() {
    const ids = [];
    for (const move of this.moves.values()) ids.push(...move.ids);
    for (const draft of this.drafts.values()) if (draft.target) ids.push(draft.target);
    return ids;
  }

  /**
   * Overlay elements: moves, drafts, then our pending element ops.
   * @param {Iterable<object>} pending  our uncommitted messages
   * @param {string} mediaBase
   * @returns {object[]}
   */
  elements(pending, mediaBase) {
    const out = [];
    for (const [id, move] of this.moves) {
      const key = `${move.version},${this.board.seq}`;
      let built = this.built.get(id);
      if (!built || built.key !== key) {
        built = { key, elements: [] };
        for (const elementId of move.ids) {
          const rec = this.board.strokes.get(elementId);
          if (!rec || !rec.visible) continue;
          const moved = Object.create(rec);
          moved.m = compose(move.m, rec.m);
          moved.cachedBox = null;
          moved.boxKey = "";
          if (rec.kind === "stroke") moved.decoded = rec.abs;
          built.elements.push(elementOf(moved, true, mediaBase));
        }
        built.elements.sort((a, b) => a.z - b.z);
        this.built.set(id, built);
      }
      out.push(...built.elements);
    }
    for (const draft of this.drafts.values()) out.push(draftElement(draft, this.board));
    for (const message of pending) {
      if (this.board.strokes.has(message.id) || this.drafts.has(message.id)) continue;
      if (ELEMENT_TYPES.has(message.type)) out.push(opElement(message, mediaBase));
      else if (message.type === "add") {
        for (const item of message.items) {
          if (ELEMENT_TYPES.has(item.type)) out.push(opElement(item, mediaBase));
        }
      }
    }
    return out;
  }
}

/**
 * A text or note being typed, as an overlay element. Editing an existing element keeps its
 * placement (the draft carries it in `m`).
 * @param {object} draft
 * @param {import("./board.js").Board} board
 * @returns {object}
 */
export function draftElement(draft, board) {
  const target = draft.target ? board.strokes.get(draft.target) : null;
  const base = target ? target.op : draft;
  const m = draft.m ? Array.from(draft.m, Number) : target ? target.m : [...IDENTITY];
  return opElement({
    type: draft.kind, x: base.x, y: base.y, size: base.size, color: base.color, text: draft.text, m,
  });
}

/**
 * An element op (text, note, image: an uncommitted one, or a draft) as an overlay element.
 * @param {object} op
 * @param {string} [mediaBase]
 * @returns {object}
 */
export function opElement(op, mediaBase = "") {
  const m = op.m ? Array.from(op.m, Number) : [...IDENTITY];
  if (op.type === "image") {
    const box = placeBox([op.x, op.y, op.x + op.w, op.y + op.h], m);
    return { kind: "image", url: mediaBase + op.src, x: op.x, y: op.y, w: op.w, h: op.h, m, bbox: box, z: 0 };
  }
  const lines = textLines(op.text ?? "");
  const own = op.type === "note" ? noteBox(op, lines, textMeasure()) : textBox(op, lines, textMeasure());
  const box = placeBox(own, m);
  const pad = op.size * Math.max(m[0], m[1]);
  return {
    kind: op.type, x: op.x, y: op.y, size: op.size, color: op.color, lines, box: own, m, z: 0,
    bbox: [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad],
  };
}
