/**
 * What the select tool has selected, drawn as a dashed box with a resize handle (a DOM overlay,
 * like peers' cursors), and what can be done to it: delete, duplicate, bring to front, send to
 * back, nudge. Works on every kind of element (strokes, shapes, text, notes, images). Moves and
 * resizes are the select tool's (tools/select.js); each gesture commits one op, undoable.
 */
import { elementHit } from "./board.js";
import { LassoPath } from "./lasso.js";
import { compose } from "./placement.js";
import { newId } from "./protocol.js";

/** Handle size and hit slop, CSS pixels. */
export const HANDLE_PX = 12;
/** Pointer slop for picking an element, CSS pixels. */
const PICK_PX = 6;
/** Offset of a duplicate from its original, board units. */
const DUPLICATE_OFFSET = 20;

/**
 * The topmost visible element at board point (x, y), optionally of some kinds only.
 * @param {object} app
 * @param {number} x
 * @param {number} y
 * @param {function(object): boolean} [accept]
 * @returns {import("./board.js").ElementRecord|null}
 */
export function topElementAt(app, x, y, accept = () => true) {
  const r = PICK_PX / app.surface.view.zoom;
  let best = null;
  for (const rec of app.board.order) {
    if (!rec.visible || app.isHidden(rec.id) || (best && rec.z < best.z)) continue;
    const b = rec.bbox;
    if (x < b[0] - r || x > b[2] + r || y < b[1] - r || y > b[3] + r) continue;
    if (accept(rec) && elementHit(rec, x, y, r)) best = rec;
  }
  return best;
}

/** The selection and its overlay. */
export class Selection {
  /** @param {object} app */
  constructor(app) {
    this.app = app;
    /** @type {Set<string>} */
    this.ids = new Set();
    /** @type {number[]|null} rubber band being dragged, board units */
    this.band = null;
    this.box = document.createElement("div");
    this.box.id = "selection";
    this.box.hidden = true;
    this.handle = document.createElement("div");
    this.handle.className = "handle";
    this.box.append(this.handle);
    this.bandEl = document.createElement("div");
    this.bandEl.id = "select-band";
    this.bandEl.hidden = true;
    document.body.append(this.box, this.bandEl);
    /** @type {number[]|null} lasso being drawn, board points x0, y0, x1, y1, ... */
    this.lasso = null;
    this.lassoPath = new LassoPath();
  }

  /**
   * Selected ids on the board and visible. An id not on the board yet stays selected while our
   * ops are pending (an image just pasted, a duplicate just made), and shows once committed.
   * @returns {string[]}
   */
  list() {
    const out = [];
    for (const id of this.ids) {
      const rec = this.app.board.strokes.get(id);
      if (rec && rec.visible && !this.app.session.localHidden.has(id)) out.push(id);
      else if (rec || this.app.session.pending.size === 0) this.ids.delete(id);
    }
    return out;
  }

  /** @param {Iterable<string>} ids */
  set(ids) {
    this.ids = new Set(ids);
    this.app.requestFrame();
  }

  clear() {
    if (this.ids.size) this.set([]);
  }

  /**
   * Bounds of the selection on the board, with a move or resize `m` in progress applied.
   * @param {number[]|null} [m]
   * @returns {number[]|null}
   */
  bounds(m = null) {
    let box = null;
    for (const id of this.list()) {
      let b = this.app.board.strokes.get(id).bbox;
      if (m) b = [m[0] * b[0] + m[2], m[1] * b[1] + m[3], m[0] * b[2] + m[2], m[1] * b[3] + m[3]];
      box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : b;
    }
    return box;
  }

  /**
   * Draw the overlay for this frame.
   * @param {number[]|null} m  the gesture in progress
   */
  render(m) {
    const { surface } = this.app;
    const rect = surface.canvas.getBoundingClientRect();
    const box = this.bounds(m);
    this.box.hidden = !box;
    if (box) {
      const [x0, y0] = surface.toScreen(box[0], box[1]);
      const [x1, y1] = surface.toScreen(box[2], box[3]);
      Object.assign(this.box.style, {
        left: `${rect.left + x0}px`, top: `${rect.top + y0}px`, width: `${x1 - x0}px`, height: `${y1 - y0}px`,
      });
    }
    this.bandEl.hidden = !this.band;
    if (this.band) {
      const [x0, y0] = surface.toScreen(Math.min(this.band[0], this.band[2]), Math.min(this.band[1], this.band[3]));
      const [x1, y1] = surface.toScreen(Math.max(this.band[0], this.band[2]), Math.max(this.band[1], this.band[3]));
      Object.assign(this.bandEl.style, {
        left: `${rect.left + x0}px`, top: `${rect.top + y0}px`, width: `${x1 - x0}px`, height: `${y1 - y0}px`,
      });
    }
    this.lassoPath.render(this.lasso, (x, y) => {
      const [sx, sy] = surface.toScreen(x, y);
      return [rect.left + sx, rect.top + sy];
    });
  }

  /**
   * Is board point (x, y) within the selection's bounds? A press there moves what is selected,
   * whichever tool (select or lasso) took it.
   * @param {number} x
   * @param {number} y
   * @returns {boolean}
   */
  contains(x, y) {
    const box = this.bounds();
    return Boolean(box) && x >= box[0] && x <= box[2] && y >= box[1] && y <= box[3];
  }

  /**
   * Is CSS point (sx, sy) (canvas coordinates) on the resize handle?
   * @param {number} sx
   * @param {number} sy
   * @returns {boolean}
   */
  onHandle(sx, sy) {
    const box = this.bounds();
    if (!box) return false;
    const [hx, hy] = this.app.surface.toScreen(box[2], box[3]);
    return Math.abs(sx - hx) <= HANDLE_PX && Math.abs(sy - hy) <= HANDLE_PX;
  }

  // --- actions -------------------------------------------------------------------------------

  delete() {
    const ids = this.list();
    if (ids.length === 0) return;
    const boxes = ids.map((id) => this.app.board.strokes.get(id).bbox);
    this.app.session.hideLocally(ids);
    this.app.surface.invalidateBoxes(boxes);
    this.app.session.erase(ids);
    this.clear();
  }

  /** One `add` op: copies of the selection, a little below and right; they become selected. */
  duplicate() {
    const ids = this.list();
    if (ids.length === 0) return;
    const shift = [1, 1, DUPLICATE_OFFSET, DUPLICATE_OFFSET];
    const records = ids.map((id) => this.app.board.strokes.get(id)).sort((a, b) => a.z - b.z);
    const items = records.map((rec) => {
      const { seq: _seq, by: _by, type: _type, id: _id, m: _m, ...fields } = rec.op;
      const item = { type: rec.kind, id: newId(), ...fields, m: compose(shift, rec.m) };
      if (rec.text !== null) item.text = rec.text;
      return item;
    });
    this.app.session.commitElementOp({ type: "add", id: newId(), items });
    this.set(items.map((item) => item.id));
  }

  /** @param {"front"|"back"} to */
  reorder(to) {
    const ids = this.list();
    if (ids.length) this.app.session.commitElementOp({ type: "z", id: newId(), ids, to });
  }

  /**
   * Move the selection by (dx, dy) board units, as one op.
   * @param {number} dx
   * @param {number} dy
   */
  nudge(dx, dy) {
    const ids = this.list();
    if (ids.length) this.app.session.commitElementOp({ type: "transform", id: newId(), ids, m: [1, 1, dx, dy] });
  }
}
