/**
 * The committed layer as the page sees it: keeps the layer renderers (layer.js) in step with the
 * board mirror, and composes their latest snapshots for the current view.
 *
 * The view is split into horizontal bands, one renderer (worker) each, so a big board is
 * rasterised on every core the page may use (`LAYER_BANDS`); each band's pixels are exactly those
 * of a single canvas, since a band only clips. Renderers learn about records in `Board.order`
 * order (element index = record index), with each one's effective visibility (visible on the board
 * and not hidden locally by a pending erase). A snapshot says how many elements and which
 * visibility version it holds, so the page knows what is missing: strokes committed after it are
 * drawn on top here until the next snapshot has them (a peer's stroke never blinks between its
 * live preview and the layer).
 */
import { drawElement } from "./elements.js";
import { Layer } from "./layer.js";
import { intersects, sameView } from "./boxes.js";
import { isIdentity, widthScale } from "./placement.js";
import { absolutePointsInto } from "./points.js";

/** Strokes newer than the snapshot drawn on the page at most; more mean the layer is loading. */
const MAX_UNBAKED = 64;
/**
 * Renderers (bands of the view). Two workers halve the time to draw the whole 10,000-stroke board
 * (230 -> 140 ms, workers ready, quiet machine), but on two cores they also compete with the page's
 * own thread while it opens its socket and decodes the replay: there one band opened the board at
 * 100% 60-250 ms sooner and the whole board as fast (docs/performance.md). So two bands only with
 * four cores or more; each band holds a copy of the board's points.
 */
export const LAYER_BANDS = (globalThis.navigator?.hardwareConcurrency || 1) >= 4 ? 2 : 1;

/** The committed strokes: mirrored to the renderers, composed from their snapshots. */
export class CommittedLayer {
  /**
   * @param {import("./board.js").Board} board
   * @param {function(string): boolean} isHidden  hidden locally (a pending erase, a drag)
   * @param {function(): string} mediaBase  where the board's images are (welcome.media)
   */
  constructor(board, isHidden, mediaBase = () => "") {
    this.board = board;
    this.isHidden = isHidden;
    this.mediaBase = mediaBase;
    /** @type {object[]|null} the `board.order` array the renderers mirror (a reset replaces it) */
    this.mirrored = null;
    this.sent = 0;
    /** @type {boolean[]} visibility the renderers have, by record index */
    this.shown = [];
    this.visibility = 0;
    /** @type {object|null} the last view asked for */
    this.posted = null;
    /** A snapshot arrived since the last `draw`. */
    this.fresh = false;
    this.firstAddMs = null;
    /** Called when a snapshot arrives (a renderer may redraw on its own: an image loaded). */
    this.onFresh = () => {};
    /** @type {object[]} records drawn on the page, whose cached paths a snapshot makes useless */
    this.built = [];
    /** @type {Layer[]} */
    this.layers = [];
    /** @type {Array<(import("./layer-renderer.js").FrameInfo & {bitmap: ImageBitmap})|null>} */
    this.fronts = [];
    // When the code that made us yields: main.js has opened its socket by then.
    queueMicrotask(() => this.#start());
  }

  /**
   * Start the renderers once the page's modules have run (or on first use), not while they are
   * still running: starting workers costs CPU the page needs to open its socket.
   */
  #start() {
    if (this.layers.length) return;
    for (let band = 0; band < LAYER_BANDS; band++) this.#addLayer(false);
    if (this.layers.some((layer) => layer.where === "page")) this.#drawOnPage();
  }

  /** @returns {string} where the layer is drawn: "worker" or "page" ("" before it starts) */
  get where() {
    return this.layers.length ? this.layers[0].where : "";
  }

  /** @returns {number} a number that changes with every snapshot on show */
  get serial() {
    return this.fronts.reduce((sum, front) => sum + (front ? front.serial : 0), 0);
  }

  /** Post records the renderers have not seen (all of them after a board reset). */
  sync() {
    this.#start();
    const order = this.board.order;
    if (order !== this.mirrored) {
      this.#post({ type: "reset", visibility: this.visibility });
      this.mirrored = order;
      this.sent = 0;
      this.shown = [];
      this.built = [];
      this.fronts.forEach((front) => front?.bitmap.close());
      this.fronts = this.layers.map(() => null);
    }
    if (this.sent >= order.length) return;
    const records = order.slice(this.sent);
    for (const rec of records) this.shown[rec.index] = rec.visible && !this.isHidden(rec.id);
    this.sent = order.length;
    this.firstAddMs ??= performance.now();
    // Runs of strokes go packed; other kinds as elements, in between, so indices stay in order.
    let start = 0;
    while (start < records.length) {
      const stroke = records[start].kind === "stroke";
      let end = start + 1;
      while (end < records.length && (records[end].kind === "stroke") === stroke) end += 1;
      const run = records.slice(start, end);
      if (stroke) {
        const strokes = packStrokes(run, this.shown);
        // The first renderers get copies; the last one the buffer itself.
        this.layers.forEach((layer, band) => {
          const last = band === this.layers.length - 1;
          layer.post({ type: "add", strokes }, last ? [strokes.points.buffer] : []);
        });
      } else {
        const media = this.mediaBase();
        this.#post({ type: "add", elements: run.map((rec) => elementOf(rec, this.shown[rec.index], media)) });
      }
      start = end;
    }
  }

  /**
   * Records moved, resized, reordered or edited: the renderers replace them (those they have).
   * @param {import("./board.js").ElementRecord[]} records
   */
  update(records) {
    if (records.length === 0 || this.board.order !== this.mirrored) return;
    const elements = [];
    const seen = new Set();
    const media = this.mediaBase();
    for (const rec of records) {
      if (rec.index >= this.sent || seen.has(rec.index)) continue;
      seen.add(rec.index);
      elements.push([rec.index, elementOf(rec, this.shown[rec.index], media)]);
    }
    if (elements.length === 0) return;
    this.visibility += 1;
    this.#post({ type: "update", elements, version: this.visibility });
  }

  /**
   * Records under these boxes may have been hidden or shown: tell the renderers which did.
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

  /** Check every record's visibility against the renderers'. */
  invalidateAll() {
    this.#updateVisibility(null);
  }

  /**
   * Ask for this view (CSS pixels and device pixel ratio) if it is not the one asked for last.
   * @param {{x: number, y: number, zoom: number, width: number, height: number, dpr: number}} view
   */
  setView(view) {
    if (sameView(view, this.posted)) return;
    this.#start();
    this.posted = view;
    this.layers.forEach((layer, band) => layer.post({ type: "view", view: this.#band(view, band) }));
  }

  /** @returns {boolean} the page draws the layer and has more to draw this frame */
  pump() {
    return this.layers.length > 0 && this.layers[0].pump();
  }

  /**
   * @param {object} view  the current view
   * @returns {boolean} the snapshots on show are this view, complete, with every record as it is
   */
  isComplete(view) {
    const count = this.board.order.length;
    if (this.mirrored !== this.board.order || this.sent !== count) return false;
    return this.fronts.every((front, band) => !!front && front.complete &&
      sameView(front.view, this.#band(view, band)) && front.added === count &&
      front.visibility === this.visibility);
  }

  /**
   * Draw the layer for `view` onto `ctx` (cleared by the caller): each band's snapshot moved and
   * scaled to the view, then strokes committed since the snapshots were taken.
   * @param {CanvasRenderingContext2D} ctx
   * @param {object} view
   * @param {number[]} rect  the board rectangle in view
   */
  draw(ctx, view, rect) {
    this.fresh = false;
    const s = view.zoom * view.dpr;
    let baked = Infinity;
    for (const front of this.fronts) {
      if (!front) {
        baked = -1;
        continue;
      }
      const f = front.view;
      const k = s / (f.zoom * f.dpr);
      ctx.setTransform(k, 0, 0, k, (f.x - view.x) * s, (f.y - view.y) * s + f.top * k);
      ctx.imageSmoothingEnabled = k !== 1;
      ctx.drawImage(front.bitmap, 0, 0);
      baked = front.complete ? Math.min(baked, front.added) : -1;
    }
    const order = this.board.order;
    if (baked < 0 || order !== this.mirrored || order.length - baked > MAX_UNBAKED) return;
    ctx.save();
    ctx.setTransform(s, 0, 0, s, -view.x * s, -view.y * s);
    for (let i = baked; i < order.length; i++) {
      const rec = order[i];
      if (!rec.visible || this.isHidden(rec.id) || !intersects(rec.bbox, rect)) continue;
      if (!rec.built) {
        rec.built = elementOf(rec, true, this.mediaBase());
        this.built.push(rec);
      }
      drawElement(ctx, rec.built);
    }
    ctx.restore(); // strokes leave their alpha and width set
  }

  /** The view as band `band` of the renderers draws it: its device-pixel rows. */
  #band(view, band) {
    const rows = Math.max(1, Math.round(view.height * view.dpr));
    const n = this.layers.length;
    const top = Math.floor((band * rows) / n);
    return { ...view, top, rows: Math.floor(((band + 1) * rows) / n) - top };
  }

  #post(message) {
    for (const layer of this.layers) layer.post(message);
  }

  #addLayer(onPage) {
    const band = this.layers.length;
    this.layers.push(new Layer(
      (info, bitmap) => this.#received(band, info, bitmap), () => this.#drawOnPage(), onPage,
    ));
    this.fronts.push(null);
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
    this.#post({ type: "visibility", changes, version: this.visibility });
  }

  #received(band, info, bitmap) {
    const front = this.fronts[band];
    if (band >= this.layers.length || (front && info.serial <= front.serial)) {
      bitmap.close();
      return;
    }
    front?.bitmap.close();
    this.fronts[band] = { ...info, bitmap };
    this.fresh = true;
    this.onFresh();
    const baked = Math.min(...this.fronts.map((f) => (f ? f.added : 0)));
    this.built = this.built.filter((rec) => {
      if (rec.index >= baked) return true;
      rec.built = null; // the layer has it now
      return false;
    });
  }

  /**
   * A worker cannot draw here: one renderer on the page draws the whole view instead, and must
   * hear everything again.
   */
  #drawOnPage() {
    if (this.layers.length !== 1 || this.layers[0].where !== "page") {
      for (const layer of this.layers) layer.close();
      this.fronts.forEach((front) => front?.bitmap.close());
      this.layers = [];
      this.fronts = [];
      this.#addLayer(true);
    }
    this.mirrored = null;
    const view = this.posted;
    this.posted = null;
    if (view) {
      this.sync();
      this.setView(view);
    }
  }
}

/**
 * Strokes as the renderer takes them: one array per field and every point in one buffer, so a
 * replay's thousands cross to the worker as a few copies (and one transfer), not thousands of
 * small objects (layer-renderer.js `unpackStrokes` turns them back into elements). Points are
 * placed (a moved or resized stroke's placement applied), widths scaled with them.
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
  const zs = new Float64Array(count);
  const visible = new Uint8Array(count);
  const tools = new Array(count);
  const colors = new Array(count);
  const pressure = new Array(count);
  for (let i = 0; i < count; i++) {
    const rec = records[i];
    if (!isIdentity(rec.m)) points.set(rec.placedAbs, offsets[i]);
    else if (rec.decoded) points.set(rec.decoded, offsets[i]);
    else absolutePointsInto(rec.op.pts, points, offsets[i]);
    bboxes.set(rec.bbox, 4 * i);
    widths[i] = rec.op.width * widthScale(rec.m);
    zs[i] = rec.z;
    visible[i] = shown[rec.index] ? 1 : 0;
    tools[i] = rec.op.tool;
    colors[i] = rec.op.color;
    pressure[i] = rec.op.p ?? null;
  }
  return { count, offsets, points, bboxes, widths, visible, tools, colors, pressure, zs };
}

/**
 * A board record as the renderer (and `drawElement`) takes it: placed, with its current text.
 * @param {import("./board.js").ElementRecord} rec
 * @param {boolean} visible
 * @param {string} mediaBase  the board's media URL prefix (welcome.media)
 * @returns {object}
 */
export function elementOf(rec, visible, mediaBase) {
  const op = rec.op;
  const common = { kind: rec.kind, bbox: [...rec.bbox], visible, z: rec.z };
  switch (rec.kind) {
    case "text":
      return { ...common, x: op.x, y: op.y, size: op.size, color: op.color, lines: rec.lines, m: [...rec.m] };
    case "note":
      return {
        ...common, x: op.x, y: op.y, size: op.size, color: op.color, lines: rec.lines,
        box: rec.ownBox, m: [...rec.m],
      };
    case "image":
      return { ...common, url: mediaBase + op.src, x: op.x, y: op.y, w: op.w, h: op.h, m: [...rec.m] };
    default:
      return {
        ...common, tool: op.tool, color: op.color, width: op.width * widthScale(rec.m),
        p: op.p ?? null, pts: rec.placedAbs, geometry: null, lod: null,
      };
  }
}
