/**
 * A mirror of the server's board state (whiteboard/board.py): applying committed ops in seq order
 * with the rules of docs/protocol.md gives the same visible set as the server.
 */
import { absolutePoints, strokeBoundsOfDeltas } from "./points.js";

/**
 * One committed stroke on the board. Its absolute points are decoded when first asked for
 * (hit tests, drawing it on the page): a replay of 10,000 strokes needs only their boxes, and
 * the layer worker gets the points straight from the delta-coded ones (committed.js).
 */
export class StrokeRecord {
  /**
   * @param {object} op  the committed op: id, seq, by, tool, color, width, pts, p?
   * @param {number} index  its position in `Board.order` (drawing order)
   */
  constructor(op, index) {
    /** @type {string} */
    this.id = op.id;
    this.index = index;
    /** @type {number} */
    this.seq = op.seq;
    /** @type {string} author id */
    this.by = op.by;
    this.op = op;
    /** @type {number[]} [minX, minY, maxX, maxY] of the ink, board units */
    this.bbox = strokeBoundsOfDeltas(op);
    this.visible = true;
    /** @type {object|null} render cache (a BuiltStroke), filled by the canvas when it draws it */
    this.built = null;
    /** @type {Float64Array|null} */
    this.decoded = null;
  }

  /** @returns {Float64Array} absolute points in board units */
  get abs() {
    if (this.decoded === null) this.decoded = absolutePoints(this.op.pts);
    return this.decoded;
  }
}

/**
 * @typedef {object} Change  what one applied op changed, for the canvas to redraw
 * @property {StrokeRecord[]} added
 * @property {StrokeRecord[]} shown
 * @property {StrokeRecord[]} hidden
 */

/** The committed board: strokes in seq order, their visibility, undo and redo stacks. */
export class Board {
  constructor() {
    this.reset();
  }

  /** Drop everything (a fresh replay follows). */
  reset() {
    /** @type {number} highest seq applied */
    this.seq = 0;
    /** @type {Map<string, StrokeRecord>} */
    this.strokes = new Map();
    /** @type {StrokeRecord[]} strokes in seq order (drawing order) */
    this.order = [];
    /** @type {Map<string, string[]>} erase/clear op id -> stroke ids it hid */
    this.hiddenBy = new Map();
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
    const change = { added: [], shown: [], hidden: [] };
    switch (op.type) {
      case "stroke": {
        const rec = new StrokeRecord(op, this.order.length);
        this.strokes.set(op.id, rec);
        this.order.push(rec);
        this.visibleCount += 1;
        change.added.push(rec);
        this.#push(op.by, op.id);
        break;
      }
      case "erase":
        this.hiddenBy.set(op.id, this.#setVisible(op.ids || [], false, change));
        this.#push(op.by, op.id);
        break;
      case "clear": {
        const ids = this.order.filter((rec) => rec.visible).map((rec) => rec.id);
        this.hiddenBy.set(op.id, this.#setVisible(ids, false, change));
        this.#push(op.by, op.id);
        break;
      }
      case "undo":
      case "redo":
        this.#undoRedo(op.type, op.by, op.target, change);
        break;
      default:
        console.warn("whiteboard: unknown committed op", op.type);
    }
    return change;
  }

  /** @returns {StrokeRecord[]} visible strokes in drawing order */
  visibleStrokes() {
    return this.order.filter((rec) => rec.visible);
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

  #push(author, opId) {
    if (!this.undoStacks.has(author)) this.undoStacks.set(author, []);
    this.undoStacks.get(author).push(opId);
    this.redoStacks.delete(author);
  }

  #undoRedo(kind, author, target, change) {
    const [source, dest] = kind === "undo"
      ? [this.undoStacks, this.redoStacks]
      : [this.redoStacks, this.undoStacks];
    const stack = source.get(author);
    if (stack && stack[stack.length - 1] === target) stack.pop();
    else console.warn(`whiteboard: ${kind} of ${target} is not on top of the stack`);
    if (!dest.has(author)) dest.set(author, []);
    dest.get(author).push(target);
    const undoing = kind === "undo";
    if (this.strokes.has(target)) this.#setVisible([target], !undoing, change);
    else this.#setVisible(this.hiddenBy.get(target) || [], undoing, change);
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
