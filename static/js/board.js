/**
 * A mirror of the server's board state (whiteboard/board.py and whiteboard/layout.py): applying
 * committed ops in seq order with the rules of docs/protocol.md gives the same visible elements,
 * in the same drawing order, at the same placements, holding the same text, as the server.
 *
 * Elements are strokes, text, sticky notes and images; `strokes` and `order` hold all of them
 * (the names are older than the other kinds).
 */
import { compose, IDENTITY, isIdentity, placeBox, placePoints, widthScale } from "./placement.js";
import { absolutePoints, pointBoundsOfDeltas, strokeBoundsOfDeltas, zigzagVarints } from "./points.js";
import { noteBox, textBox, textLines } from "./text.js";

/** Keys per seq in the drawing order (layout.py Z_SLOTS). */
export const Z_SLOTS = 2 ** 20;
const ELEMENT_OPS = new Set(["stroke", "text", "note", "image"]);

/**
 * Width of one line of text at a font size. An estimate until the page sets a real one
 * (`setTextMeasure`), once the fonts are loaded.
 * @type {import("./text.js").Measure}
 */
let measureLine = (line, size) => 0.6 * size * [...line].length;
let measureVersion = 0;

/** @returns {import("./text.js").Measure} the width of one line at a font size, as measured now */
export function textMeasure() {
  return measureLine;
}

/**
 * Use `measure` for text widths from now on (bounding boxes of text and notes are recomputed).
 * @param {import("./text.js").Measure} measure
 */
export function setTextMeasure(measure) {
  measureLine = measure;
  measureVersion += 1;
}

/**
 * One committed element on the board. A stroke's absolute points are decoded when first asked
 * for (hit tests, drawing it on the page): a replay of 10,000 strokes needs only their boxes, and
 * the layer worker gets the points straight from the delta-coded ones (committed.js).
 */
export class ElementRecord {
  /**
   * @param {object} op  the element's op (for an item of an `add`, the item with seq and by)
   * @param {number} index  its position in `Board.order` (the order elements were added)
   * @param {number} z  its drawing-order key when added
   */
  constructor(op, index, z) {
    /** @type {string} */
    this.id = op.id;
    this.index = index;
    /** @type {"stroke"|"text"|"note"|"image"} */
    this.kind = op.type || "stroke";
    /** @type {number} */
    this.seq = op.seq;
    /** @type {string} author id */
    this.by = op.by;
    this.op = op;
    this.visible = true;
    /** Drawing-order key: drawn above every element with a smaller one. */
    this.z = z;
    /** @type {number[]} placement [sx, sy, tx, ty] */
    this.m = op.m ? Array.from(op.m, Number) : [...IDENTITY];
    /** @type {string[]} ids of the transforms applied to it, in seq order (undone ones too) */
    this.factors = [];
    /** @type {string|null} current text of a text element or note */
    this.text = typeof op.text === "string" ? op.text : null;
    /** Bumped whenever placement or text change: caches of its drawing compare it. */
    this.version = 0;
    /** @type {object|null} render cache (a BuiltStroke), filled by the canvas when it draws it */
    this.built = null;
    /** @type {Float64Array|null} */
    this.decoded = null;
    this.cachedBox = null;
    this.boxKey = "";
  }

  /** @returns {Float64Array} a stroke's absolute points in its own coordinates */
  get abs() {
    if (this.decoded === null) this.decoded = absolutePoints(this.op.pts);
    return this.decoded;
  }

  /** @returns {Float64Array} a stroke's points on the board (placement applied) */
  get placedAbs() {
    return placePoints(this.abs, this.m);
  }

  /** @returns {string[]} the lines of a text or note as drawn */
  get lines() {
    return textLines(this.text ?? "");
  }

  /**
   * [minX, minY, maxX, maxY] on the board, ink included (culling, hit tests, redraw regions).
   * @returns {number[]}
   */
  get bbox() {
    const key = `${this.version},${this.kind === "text" || this.kind === "note" ? measureVersion : 0}`;
    if (this.cachedBox && this.boxKey === key) return this.cachedBox;
    this.boxKey = key;
    this.cachedBox = elementBounds(this);
    return this.cachedBox;
  }

  /** @returns {number[]} the element's box in its own coordinates (strokes: their points) */
  get ownBox() {
    switch (this.kind) {
      case "text": return textBox(this.op, this.lines, measureLine);
      case "note": return noteBox(this.op, this.lines, measureLine);
      case "image": return [this.op.x, this.op.y, this.op.x + this.op.w, this.op.y + this.op.h];
      default: return pointBoundsOfDeltas(this.op.pts);
    }
  }
}

/** @deprecated the older name of ElementRecord */
export const StrokeRecord = ElementRecord;

/**
 * An element's bounds on the board. Strokes: their points placed, then half the placed width
 * and a unit around; text: its box and a quarter of the font size around (accents, overhangs).
 * @param {ElementRecord} rec
 * @returns {number[]}
 */
export function elementBounds(rec) {
  if (rec.kind === "stroke") {
    if (isIdentity(rec.m)) return strokeBoundsOfDeltas(rec.op);
    const box = placeBox(rec.ownBox, rec.m);
    const pad = (rec.op.width * widthScale(rec.m)) / 2 + 1;
    return [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad];
  }
  const box = placeBox(rec.ownBox, rec.m);
  const pad = rec.kind === "text" ? rec.op.size * 0.25 * Math.max(rec.m[0], rec.m[1]) + 1 : 1;
  return [box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad];
}

/**
 * @typedef {object} Change  what one applied op changed, for the canvas to redraw
 * @property {ElementRecord[]} added
 * @property {ElementRecord[]} shown
 * @property {ElementRecord[]} hidden
 * @property {{rec: ElementRecord, before: number[]}[]} moved  placement or text changed:
 *   `before` is the bbox it had
 * @property {ElementRecord[]} reordered  drawing-order key changed
 */

/** The committed board: elements, their visibility, layout, undo and redo stacks. */
export class Board {
  constructor() {
    this.reset();
  }

  /** Drop everything (a fresh replay follows). */
  reset() {
    /** @type {number} highest seq applied */
    this.seq = 0;
    /** Started from a snapshot: undo stacks hold only its window, older targets are unknown. */
    this.fromSnapshot = false;
    /** @type {Map<string, ElementRecord>} */
    this.strokes = new Map();
    /** @type {ElementRecord[]} elements in the order they were added */
    this.order = [];
    /** @type {Map<string, string[]>} erase/clear op id -> element ids it hid */
    this.hiddenBy = new Map();
    /** @type {Map<string, string[]>} add op id -> its element ids */
    this.addedBy = new Map();
    /** @type {Map<string, {m: number[], ids: string[]}>} */
    this.transforms = new Map();
    /** @type {Set<string>} transforms undone (and not redone) */
    this.undoneTransforms = new Set();
    /** @type {Map<string, {to: string, moves: Array<[string, number, number]>}>} */
    this.zMoves = new Map();
    /** @type {Map<string, {target: string, before: [string, string]|null, after: string}>} */
    this.edits = new Map();
    /** @type {Map<string, string>} element id -> op id that set its current text (if edited) */
    this.textBy = new Map();
    /** @type {Map<string, string[]>} */
    this.undoStacks = new Map();
    /** @type {Map<string, string[]>} */
    this.redoStacks = new Map();
    this.visibleCount = 0;
  }

  /**
   * Apply one committed op. Ops at or below the current seq are ignored (already applied).
   * @param {object} op  a committed op: type, seq, id, by, ...
   * @returns {Change|null} null when the op was ignored
   */
  apply(op) {
    if (typeof op.seq !== "number" || op.seq <= this.seq) return null;
    if (op.seq !== this.seq + 1) console.warn(`whiteboard: seq gap ${this.seq} -> ${op.seq}`);
    this.seq = op.seq;
    /** @type {Change} */
    const change = { added: [], shown: [], hidden: [], moved: [], reordered: [] };
    const type = op.type;
    if (ELEMENT_OPS.has(type)) {
      this.#addElement(op, 0, change);
      this.#push(op.by, op.id);
    } else if (type === "add") {
      const items = op.items || [];
      items.forEach((item, position) => this.#addElement({ ...item, seq: op.seq, by: op.by }, position, change));
      this.addedBy.set(op.id, items.map((item) => item.id));
      this.#push(op.by, op.id);
    } else if (type === "transform") {
      const m = Array.from(op.m, Number);
      const ids = op.ids || [];
      this.transforms.set(op.id, { m, ids });
      for (const id of ids) {
        const rec = this.strokes.get(id);
        if (!rec) continue;
        rec.factors.push(op.id);
        this.#setPlacement(rec, compose(m, rec.m), change);
      }
      this.#push(op.by, op.id);
    } else if (type === "z") {
      this.#reorder(op.id, op.seq, op.ids || [], op.to, change);
      this.#push(op.by, op.id);
    } else if (type === "edit") {
      const before = this.textBy.has(op.target) ? [this.strokes.get(op.target).text, this.textBy.get(op.target)] : null;
      this.edits.set(op.id, { target: op.target, before, after: op.text });
      this.#setText(op.target, op.text, op.id, change);
      this.#push(op.by, op.id);
    } else if (type === "erase") {
      this.hiddenBy.set(op.id, this.#setVisible(op.ids || [], false, change));
      this.#push(op.by, op.id);
    } else if (type === "clear") {
      const ids = this.order.filter((rec) => rec.visible).map((rec) => rec.id);
      this.hiddenBy.set(op.id, this.#setVisible(ids, false, change));
      this.#push(op.by, op.id);
    } else if (type === "undo" || type === "redo") {
      this.#undoRedo(type, op.by, op.target, op.seq, change);
      if (op.restore) this.#restore(op.restore, change);
    } else {
      console.warn("whiteboard: unknown committed op", type);
    }
    return change;
  }

  /**
   * Apply one part of a snapshot (docs/protocol.md, "Snapshots"): part 0 replaces the board; the
   * last part sets its seq, undo and redo stacks and what the erases, clears and pastes in them
   * hid or added.
   * @param {object} part  a `snapshot` message
   * @returns {Change} every element added (hidden ones with `visible` false)
   */
  loadSnapshot(part) {
    if (part.part === 0) {
      this.reset();
      this.fromSnapshot = true;
    }
    /** @type {Change} */
    const change = { added: [], shown: [], hidden: [], moved: [], reordered: [] };
    const ids = part.ids || [];
    const counts = part.n || [];
    let total = 0;
    for (const count of counts) total += 2 * count;
    const coords = zigzagVarints(part.pts, total);
    const seqSteps = zigzagVarints(part.seqs, ids.length);
    const pairs = (list) => {
      const map = new Map();
      for (let i = 0; i + 1 < (list || []).length; i += 2) map.set(list[i], list[i + 1]);
      return map;
    };
    const pressure = pairs(part.p);
    const items = pairs(part.items);
    const state = pairs(part.state);
    let seq = 0;
    let offset = 0;
    for (let i = 0; i < ids.length; i++) {
      seq += seqSteps[i];
      const by = part.authors[part.by[i]];
      let op;
      if (items.has(i)) op = { ...items.get(i), id: ids[i], seq, by };
      else {
        const [tool, color, width] = part.styles[part.style[i]];
        const end = offset + 2 * counts[i];
        op = { type: "stroke", id: ids[i], seq, by, tool, color, width, pts: coords.subarray(offset, end) };
        if (pressure.has(i)) op.p = pressure.get(i);
        offset = end;
      }
      const placed = state.get(i);
      if (placed?.m) op.m = placed.m;
      const rec = new ElementRecord(op, this.order.length, placed?.z ?? seq * Z_SLOTS);
      this.strokes.set(op.id, rec);
      this.order.push(rec);
      this.visibleCount += 1;
      change.added.push(rec);
    }
    for (const position of part.hidden || []) {
      const rec = this.order[position];
      if (rec && rec.visible) {
        rec.visible = false;
        this.visibleCount -= 1;
      }
    }
    if (part.last) {
      this.seq = part.seq;
      const idsAt = (positions) => positions.map((position) => this.order[position].id);
      for (const [opId, positions] of Object.entries(part.hidden_by || {})) this.hiddenBy.set(opId, idsAt(positions));
      for (const [opId, positions] of Object.entries(part.added_by || {})) this.addedBy.set(opId, idsAt(positions));
      for (const [author, stack] of Object.entries(part.undo || {})) this.undoStacks.set(author, [...stack]);
      for (const [author, stack] of Object.entries(part.redo || {})) this.redoStacks.set(author, [...stack]);
    }
    return change;
  }

  /** @returns {ElementRecord[]} visible elements in drawing order */
  visibleStrokes() {
    return this.order.filter((rec) => rec.visible).sort((a, b) => a.z - b.z);
  }

  /**
   * Bounds of everything visible, or null for an empty board.
   * @returns {number[]|null}
   */
  visibleBounds() {
    let box = null;
    for (const rec of this.order) {
      if (!rec.visible) continue;
      const b = rec.bbox;
      box = box
        ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])]
        : [...b];
    }
    return box;
  }

  #addElement(op, position, change) {
    const rec = new ElementRecord(op, this.order.length, op.seq * Z_SLOTS + position);
    this.strokes.set(op.id, rec);
    this.order.push(rec);
    this.visibleCount += 1;
    change.added.push(rec);
  }

  #push(author, opId) {
    if (!this.undoStacks.has(author)) this.undoStacks.set(author, []);
    this.undoStacks.get(author).push(opId);
    this.redoStacks.delete(author);
  }

  #undoRedo(kind, author, target, seq, change) {
    const [source, dest] = kind === "undo"
      ? [this.undoStacks, this.redoStacks]
      : [this.redoStacks, this.undoStacks];
    const stack = source.get(author);
    if (stack && stack[stack.length - 1] === target) stack.pop();
    else if (!this.fromSnapshot) console.warn(`whiteboard: ${kind} of ${target} is not on top of the stack`);
    if (!dest.has(author)) dest.set(author, []);
    dest.get(author).push(target);
    const undoing = kind === "undo";
    if (this.strokes.has(target)) this.#setVisible([target], !undoing, change);
    else if (this.addedBy.has(target)) this.#setVisible(this.addedBy.get(target), !undoing, change);
    else if (this.transforms.has(target)) {
      if (undoing) this.undoneTransforms.add(target);
      else this.undoneTransforms.delete(target);
      for (const id of this.transforms.get(target).ids) {
        const rec = this.strokes.get(id);
        if (rec) this.#setPlacement(rec, this.#product(rec), change);
      }
    } else if (this.zMoves.has(target)) this.#reorderAgain(target, seq, undoing, change);
    else if (this.edits.has(target)) this.#editAgain(target, undoing, change);
    else this.#setVisible(this.hiddenBy.get(target) || [], undoing, change);
  }

  /**
   * What an undo or redo's `restore` says changes (docs/protocol.md, "Snapshots"), after the op
   * was applied as usual: this page may lack what its target did (it started from a snapshot).
   * @param {{show?: object[], hide?: string[], set?: object[]}} restore
   * @param {Change} change
   */
  #restore(restore, change) {
    const show = restore.show || [];
    const missing = show.filter((op) => !this.strokes.has(op.id));
    if (missing.length) this.#insertOld(missing, change);
    this.#setVisible(show.map((op) => op.id), true, change);
    this.#setVisible(restore.hide || [], false, change);
    for (const { id, m, z, text } of restore.set || []) {
      const rec = this.strokes.get(id);
      if (!rec) continue;
      if (m) this.#setPlacement(rec, Array.from(m, Number), change);
      if (typeof z === "number" && rec.z !== z) {
        rec.z = z;
        change.reordered.push(rec);
      }
      if (typeof text === "string" && rec.text !== text) {
        const before = rec.bbox;
        rec.text = text;
        rec.version += 1;
        change.moved.push({ rec, before });
      }
    }
  }

  /**
   * Add elements older than some on the board (an undo's `restore`), hidden, at their place in
   * seq order. `order` becomes a new array, so the canvas redraws the board as after a reset.
   */
  #insertOld(ops, change) {
    const added = ops.map((op) => {
      const rec = new ElementRecord(op, 0, op.z ?? op.seq * Z_SLOTS);
      rec.visible = false;
      this.strokes.set(op.id, rec);
      change.added.push(rec);
      return rec;
    });
    const order = [...this.order, ...added].sort((a, b) => a.seq - b.seq);
    order.forEach((rec, index) => { rec.index = index; });
    this.order = order;
  }

  /** Set visibility; return the ids that changed (what an undo must later restore). */
  #setVisible(ids, visible, change) {
    const changed = [];
    for (const id of ids) {
      const rec = this.strokes.get(id);
      if (rec && rec.visible !== visible) {
        rec.visible = visible;
        this.visibleCount += visible ? 1 : -1;
        changed.push(id);
        (visible ? change.shown : change.hidden).push(rec);
      }
    }
    return changed;
  }

  /**
   * An element's initial placement with its transforms that are not undone composed on top, in
   * seq order (layout.py `_product`): the same float operations as applying them one by one.
   */
  #product(rec) {
    let placed = rec.op.m ? Array.from(rec.op.m, Number) : [...IDENTITY];
    for (const opId of rec.factors) {
      if (!this.undoneTransforms.has(opId)) placed = compose(this.transforms.get(opId).m, placed);
    }
    return placed;
  }

  #setPlacement(rec, m, change) {
    const before = rec.bbox;
    rec.m = m;
    rec.version += 1;
    rec.built = null;
    change.moved.push({ rec, before });
  }

  #reorder(opId, seq, ids, to, change) {
    const base = to === "front" ? seq * Z_SLOTS : -seq * Z_SLOTS;
    const moves = [];
    ids.forEach((id, position) => {
      const rec = this.strokes.get(id);
      if (!rec) return;
      moves.push([id, rec.z, base + position]);
      rec.z = base + position;
      change.reordered.push(rec);
    });
    this.zMoves.set(opId, { to, moves });
  }

  #reorderAgain(opId, seq, undoing, change) {
    const record = this.zMoves.get(opId);
    const base = record.to === "front" ? seq * Z_SLOTS : -seq * Z_SLOTS;
    record.moves = record.moves.map(([id, before, after], position) => {
      const rec = this.strokes.get(id);
      if (undoing && rec.z === after) {
        rec.z = before;
        change.reordered.push(rec);
      } else if (!undoing && rec.z === before) {
        after = base + position;
        rec.z = after;
        change.reordered.push(rec);
      }
      return [id, before, after];
    });
  }

  #setText(id, text, setBy, change) {
    const rec = this.strokes.get(id);
    if (!rec) return;
    const before = rec.bbox;
    rec.text = text;
    if (setBy === null) this.textBy.delete(id);
    else this.textBy.set(id, setBy);
    rec.version += 1;
    rec.built = null;
    change.moved.push({ rec, before });
  }

  #editAgain(opId, undoing, change) {
    const { target, before, after } = this.edits.get(opId);
    const setter = this.textBy.get(target) ?? target;
    if (undoing) {
      if (setter !== opId) return; // edited again since: that text stays
      if (before === null) this.#setText(target, this.strokes.get(target).op.text, null, change);
      else this.#setText(target, before[0], before[1], change);
      return;
    }
    if (setter === (before === null ? target : before[1])) this.#setText(target, after, opId, change);
  }
}

/**
 * Does a circle at (x, y) of radius r (board units) touch the element? Strokes: their ink as
 * placed; text, notes and images: their box.
 * @param {ElementRecord} rec
 * @param {number} x
 * @param {number} y
 * @param {number} r
 * @returns {boolean}
 */
export function elementHit(rec, x, y, r) {
  if (rec.kind === "stroke") {
    const width = rec.op.width * widthScale(rec.m);
    return strokeHit({ tool: rec.op.tool, width }, rec.placedAbs, x, y, r);
  }
  const b = rec.bbox;
  const dx = Math.max(b[0] - x, 0, x - b[2]);
  const dy = Math.max(b[1] - y, 0, y - b[3]);
  return Math.hypot(dx, dy) <= r;
}

/**
 * Does a circle at (x, y) of radius r touch the stroke's ink? (eraser hit test)
 * @param {{tool: string, width: number}} op
 * @param {Float64Array} abs absolute points
 * @param {number} x
 * @param {number} y
 * @param {number} r
 * @returns {boolean}
 */
export function strokeHit(op, abs, x, y, r) {
  const reach = r + op.width / 2;
  const count = abs.length >> 1;
  if (count === 0) return false;
  if (op.tool === "rect" || op.tool === "ellipse") {
    const x0 = Math.min(abs[0], abs[2]);
    const x1 = Math.max(abs[0], abs[2]);
    const y0 = Math.min(abs[1], abs[3]);
    const y1 = Math.max(abs[1], abs[3]);
    if (op.tool === "rect") {
      const corners = [x0, y0, x1, y0, x1, y1, x0, y1, x0, y0];
      for (let i = 0; i < 8; i += 2) {
        if (segmentDistance(x, y, corners[i], corners[i + 1], corners[i + 2], corners[i + 3]) <= reach) return true;
      }
      return false;
    }
    const cx = (x0 + x1) / 2;
    const cy = (y0 + y1) / 2;
    const rx = (x1 - x0) / 2;
    const ry = (y1 - y0) / 2;
    const steps = 64;
    let px = cx + rx;
    let py = cy;
    for (let i = 1; i <= steps; i++) {
      const a = (i / steps) * 2 * Math.PI;
      const qx = cx + rx * Math.cos(a);
      const qy = cy + ry * Math.sin(a);
      if (segmentDistance(x, y, px, py, qx, qy) <= reach) return true;
      px = qx;
      py = qy;
    }
    return false;
  }
  if (count === 1) return Math.hypot(x - abs[0], y - abs[1]) <= reach;
  for (let i = 0; i + 3 < abs.length; i += 2) {
    if (segmentDistance(x, y, abs[i], abs[i + 1], abs[i + 2], abs[i + 3]) <= reach) return true;
  }
  return false;
}

function segmentDistance(px, py, ax, ay, bx, by) {
  const dx = bx - ax;
  const dy = by - ay;
  const len2 = dx * dx + dy * dy;
  let t = len2 === 0 ? 0 : ((px - ax) * dx + (py - ay) * dy) / len2;
  t = Math.max(0, Math.min(1, t));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
