/**
 * The committed layer as the page sees it: keeps the layer renderer (layer.js) in step with the
 * board mirror, and composes the renderer's latest snapshot for the current view.
 *
 * The renderer learns about records in `Board.order` order (element index = record index), with
 * each one's effective visibility (visible on the board and not hidden locally by a pending
 * erase). A snapshot says how many elements and which visibility version it holds, so the page
 * knows what is missing: strokes committed after it are drawn on top here until the next snapshot
 * has them (a peer's stroke never blinks between its live preview and the layer).
 */
import { Layer } from "./layer.js";
import { intersects, sameView } from "./layer-renderer.js";
import { absolutePointsInto } from "./points.js";
import { buildStroke, paintStroke } from "./render.js";

/** Strokes newer than the snapshot drawn on the page at most; more mean the layer is loading. */
const MAX_UNBAKED = 64;

/** The committed strokes: mirrored to the renderer, composed from its snapshots. */
export class CommittedLayer {
  /**
   * @param {import("./board.js").Board} board
   * @param {function(string): boolean} isHidden  hidden locally (a pending erase)
   */
  constructor(board, isHidden) {
    this.board = board;
    this.isHidden = isHidden;
    /** @type {object[]|null} the `board.order` array the renderer mirrors (a reset replaces it) */
    this.mirrored = null;
    this.sent = 0;
    /** @type {boolean[]} visibility the renderer has, by record index */
    this.shown = [];
    this.visibility = 0;
    /** @type {object|null} the last view posted */
    this.posted = null;
    /** @type {(import("./layer-renderer.js").FrameInfo & {bitmap: ImageBitmap})|null} */
    this.front = null;
    /** A snapshot arrived since the last `draw`. */
    this.fresh = false;
    this.firstAddMs = null;
    /** @type {object[]} records drawn on the page, whose cached paths a snapshot makes useless */
    this.built = [];
    this.layer = new Layer((info, bitmap) => this.#received(info, bitmap), () => this.#restart());
  }

  /** @returns {string} where the layer is drawn: "worker" or "page" */
  get where() {
    return this.layer.where;
  }

  /** Post records the renderer has not seen (all of them after a board reset). */
  sync() {
    const order = this.board.order;
    if (order !== this.mirrored) {
      this.layer.post({ type: "reset", visibility: this.visibility });
      this.mirrored = order;
      this.sent = 0;
      this.shown = [];
      this.built = [];
      this.front?.bitmap.close();
      this.front = null;
    }
    if (this.sent >= order.length) return;
    const records = order.slice(this.sent);
    for (const rec of records) this.shown[rec.index] = rec.visible && !this.isHidden(rec.id);
    const strokes = packStrokes(records, this.shown);
    this.sent = order.length;
    this.firstAddMs ??= performance.now();
    this.layer.post({ type: "add", strokes }, [strokes.points.buffer]);
  }

  /**
   * Records under these boxes may have been hidden or shown: tell the renderer which did.
   * @param {number[][]} boxes  board units
   */
  invalidateBoxes(boxes) {
    if (boxes.length === 0) return;
    let box = null;
    for (const b of boxes) {
      box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : [...b];
    }
    this.#updateVisibility(box);
  }

  /** Check every record's visibility against the renderer's. */
  invalidateAll() {
    this.#updateVisibility(null);
  }

  /**
   * Ask for this view (CSS pixels and device pixel ratio) if it is not the one asked for last.
   * @param {{x: number, y: number, zoom: number, width: number, height: number, dpr: number}} view
   */
  setView(view) {
    if (sameView(view, this.posted)) return;
    this.posted = view;
    this.layer.post({ type: "view", view });
  }

  /** @returns {boolean} the page draws the layer and has more to draw this frame */
  pump() {
    return this.layer.pump();
  }

  /**
   * @param {object} view  the current view
   * @returns {boolean} the snapshot on show is this view, complete, with every record as it is
   */
  isComplete(view) {
    const front = this.front;
    return !!front && front.complete && sameView(front.view, view) &&
      front.added === this.board.order.length && this.sent === front.added &&
      front.visibility === this.visibility && this.mirrored === this.board.order;
  }

  /**
   * Draw the layer for `view` onto `ctx` (cleared by the caller): the snapshot moved and scaled
   * to the view, then strokes committed since it was taken.
   * @param {CanvasRenderingContext2D} ctx
   * @param {object} view
   * @param {number[]} rect  the board rectangle in view
   */
  draw(ctx, view, rect) {
    this.fresh = false;
    const front = this.front;
    if (!front) return;
    const f = front.view;
    const s = view.zoom * view.dpr;
    const k = s / (f.zoom * f.dpr);
    ctx.setTransform(k, 0, 0, k, (f.x - view.x) * s, (f.y - view.y) * s);
    ctx.imageSmoothingEnabled = k !== 1;
    ctx.drawImage(front.bitmap, 0, 0);
    const order = this.board.order;
    if (!front.complete || order !== this.mirrored || order.length - front.added > MAX_UNBAKED) return;
    ctx.setTransform(s, 0, 0, s, -view.x * s, -view.y * s);
    for (let i = front.added; i < order.length; i++) {
      const rec = order[i];
      if (!rec.visible || this.isHidden(rec.id) || !intersects(rec.bbox, rect)) continue;
      if (!rec.built) {
        rec.built = buildStroke(rec.op, rec.abs);
        this.built.push(rec);
      }
      paintStroke(ctx, rec.op, rec.built);
    }
  }

  #updateVisibility(box) {
    this.sync();
    const changes = [];
    for (const rec of this.board.order) {
      if (box && !intersects(rec.bbox, box)) continue;
      const shown = rec.visible && !this.isHidden(rec.id);
      if (shown !== this.shown[rec.index]) {
        this.shown[rec.index] = shown;
        changes.push(rec.index, shown ? 1 : 0);
      }
    }
    if (changes.length === 0) return;
    this.visibility += 1;
    this.layer.post({ type: "visibility", changes, version: this.visibility });
  }

  #received(info, bitmap) {
    if (this.front && info.serial <= this.front.serial) {
      bitmap.close();
      return;
    }
    this.front?.bitmap.close();
    this.front = { ...info, bitmap };
    this.fresh = true;
    this.built = this.built.filter((rec) => {
      if (rec.index >= info.added) return true;
      rec.built = null; // the layer has it now
      return false;
    });
  }

  /** A new renderer (the worker could not draw): it must hear everything again. */
  #restart() {
    this.mirrored = null;
    const view = this.posted;
    this.posted = null;
    if (view && this.board) {
      this.sync();
      this.setView(view);
    }
  }
}

/**
 * Strokes as the renderer takes them: one array per field and every point in one buffer, so a
 * replay's thousands cross to the worker as a few copies (and one transfer), not thousands of
 * small objects (layer-renderer.js `unpackStrokes` turns them back into elements).
 * @param {import("./board.js").StrokeRecord[]} records
 * @param {boolean[]} shown  effective visibility by record index
 * @returns {object}
 */
export function packStrokes(records, shown) {
  const count = records.length;
  const offsets = new Uint32Array(count + 1);
  for (let i = 0; i < count; i++) offsets[i + 1] = offsets[i] + records[i].op.pts.length;
  const points = new Float64Array(offsets[count]);
  const bboxes = new Float64Array(4 * count);
  const widths = new Float64Array(count);
  const visible = new Uint8Array(count);
  const tools = new Array(count);
  const colors = new Array(count);
  const pressure = new Array(count);
  for (let i = 0; i < count; i++) {
    const rec = records[i];
    if (rec.decoded) points.set(rec.decoded, offsets[i]);
    else absolutePointsInto(rec.op.pts, points, offsets[i]);
    bboxes.set(rec.bbox, 4 * i);
    widths[i] = rec.op.width;
    visible[i] = shown[rec.index] ? 1 : 0;
    tools[i] = rec.op.tool;
    colors[i] = rec.op.color;
    pressure[i] = rec.op.p ?? null;
  }
  return { count, offsets, points, bboxes, widths, visible, tools, colors, pressure };
}
