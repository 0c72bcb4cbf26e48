/**
 * The drawing surface: a pan/zoom view over the infinite board and two layers.
 *
 * - The committed layer is cached in an offscreen canvas rendered for one view. New strokes are
 *   drawn onto it incrementally; hiding strokes redraws only their region. After a pan or zoom it
 *   is rebuilt from the strokes whose bounding boxes meet the viewport, in time slices of a few
 *   milliseconds per frame, so a huge board never blocks a frame; until the rebuild is done the old
 *   cache is shown moved and scaled to the new view.
 * - Live and not-yet-committed strokes are drawn each frame on top, from cached Path2D objects.
 */
import { buildStroke, paintStroke } from "./render.js";
import { absolutePoints } from "./protocol.js";

export const MIN_ZOOM = 0.02;
export const MAX_ZOOM = 32;
/** Milliseconds per frame the committed layer may spend rebuilding. */
const REBUILD_BUDGET_MS = 8;
/** New strokes drawn onto the cache at once per frame; beyond that the cache is rebuilt. */
const MAX_SYNC_ADDS = 64;

/**
 * @typedef {object} View  board point at the viewport's top-left corner, and the zoom
 * @property {number} x
 * @property {number} y
 * @property {number} zoom  screen pixels (CSS) per board unit
 */

/** Viewport, layers and the per-frame composition. */
export class Surface {
  /**
   * @param {HTMLCanvasElement} canvas
   * @param {import("./board.js").Board} board
   * @param {{overlays: function(): object[], isHidden: function(string): boolean}} sources
   */
  constructor(canvas, board, sources) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.board = board;
    this.sources = sources;
    /** @type {View} */
    this.view = { x: 0, y: 0, zoom: 1 };
    this.width = 1; // CSS pixels
    this.height = 1;
    this.dpr = 1;
    this.front = document.createElement("canvas");
    this.back = document.createElement("canvas");
    // CPU-backed on purpose: drawing is only recorded until the canvas is flushed, so the
    // rebuild's time slices mean something only if each slice is flushed (a 1-pixel read).
    this.frontCtx = this.front.getContext("2d", { willReadFrequently: true });
    this.backCtx = this.back.getContext("2d", { willReadFrequently: true });
    /** @type {View|null} the view the front cache was rendered for */
    this.frontView = null;
    /** @type {{view: View, index: number, rect: number[]}|null} a rebuild in progress */
    this.job = null;
    this.needsRebuild = true;
    /** @type {WeakMap<object, {version: number, built: object, abs: Float64Array}>} */
    this.overlayCache = new WeakMap();
    this.addedThisFrame = 0;
    /** @type {number[]} durations of the last frames' work (ms), for measurements */
    this.frameTimes = [];
    this.stats = { lastFrameMs: 0, rebuilds: 0, lastRebuildMs: 0, rebuildStart: 0, strokesDrawn: 0 };
  }

  /** Match the canvas to its CSS size and the device pixel ratio. */
  resize() {
    const rect = this.canvas.getBoundingClientRect();
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.dpr = window.devicePixelRatio || 1;
    const w = Math.round(this.width * this.dpr);
    const h = Math.round(this.height * this.dpr);
    for (const c of [this.canvas, this.front, this.back]) {
      c.width = w;
      c.height = h;
    }
    this.frontView = null;
    this.invalidateAll();
  }

  /**
   * Set the view (pan/zoom); zoom is clamped.
   * @param {View} view
   */
  setView(view) {
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.zoom));
    if (view.x === this.view.x && view.y === this.view.y && zoom === this.view.zoom) return;
    this.view = { x: view.x, y: view.y, zoom };
    this.needsRebuild = true;
  }

  /**
   * Zoom by `factor` keeping the board point under screen point (sx, sy) in place.
   * @param {number} factor
   * @param {number} sx CSS pixels from the canvas' left
   * @param {number} sy
   */
  zoomAt(factor, sx, sy) {
    const { x, y, zoom } = this.view;
    const next = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom * factor));
    const bx = x + sx / zoom;
    const by = y + sy / zoom;
    this.setView({ x: bx - sx / next, y: by - sy / next, zoom: next });
  }

  /**
   * Pan by a screen-space delta (CSS pixels).
   * @param {number} dx
   * @param {number} dy
   */
  panBy(dx, dy) {
    const { x, y, zoom } = this.view;
    this.setView({ x: x - dx / zoom, y: y - dy / zoom, zoom });
  }

  /**
   * Fit a board rectangle into the viewport with a margin.
   * @param {number[]|null} box [minX, minY, maxX, maxY], or null for the default view
   */
  fit(box) {
    if (!box) {
      this.setView({ x: 0, y: 0, zoom: 1 });
      return;
    }
    const margin = 40;
    const w = Math.max(1, box[2] - box[0]);
    const h = Math.max(1, box[3] - box[1]);
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, Math.min(
      (this.width - 2 * margin) / w, (this.height - 2 * margin) / h, 4)));
    this.setView({
      x: (box[0] + box[2]) / 2 - this.width / 2 / zoom,
      y: (box[1] + box[3]) / 2 - this.height / 2 / zoom,
      zoom,
    });
  }

  /**
   * Screen (CSS pixels, relative to the canvas) -> board units.
   * @param {number} sx
   * @param {number} sy
   * @returns {number[]}
   */
  toBoard(sx, sy) {
    return [this.view.x + sx / this.view.zoom, this.view.y + sy / this.view.zoom];
  }

  /**
   * Board units -> screen CSS pixels.
   * @param {number} bx
   * @param {number} by
   * @returns {number[]}
   */
  toScreen(bx, by) {
    return [(bx - this.view.x) * this.view.zoom, (by - this.view.y) * this.view.zoom];
  }

  /** Everything on the committed layer must be drawn again. */
  invalidateAll() {
    this.needsRebuild = true;
  }

  /**
   * A committed stroke was added on top: draw it onto the cache now (it is the newest).
   * @param {import("./board.js").StrokeRecord} rec
   */
  strokeAdded(rec) {
    if (this.job || this.needsRebuild || !this.frontView) return; // the rebuild will include it
    // A replay brings thousands at once: drawing them in time slices keeps the page responsive.
    if (++this.addedThisFrame > MAX_SYNC_ADDS) {
      this.needsRebuild = true;
      return;
    }
    if (!this.#intersects(rec.bbox, this.#viewRect(this.frontView))) return;
    this.#applyTransform(this.frontCtx, this.frontView);
    this.#drawRecord(this.frontCtx, rec);
  }

  /**
   * Strokes were hidden or shown: redraw the region they cover (or everything if it is large).
   * @param {number[][]} boxes bounding boxes in board units
   */
  invalidateBoxes(boxes) {
    if (boxes.length === 0) return;
    if (this.job || this.needsRebuild || !this.frontView) {
      this.needsRebuild = true; // after the running rebuild (which may have drawn them) ends
      return;
    }
    let box = null;
    for (const b of boxes) {
      box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : [...b];
    }
    const rect = this.#viewRect(this.frontView);
    const clip = [Math.max(box[0], rect[0]), Math.max(box[1], rect[1]), Math.min(box[2], rect[2]), Math.min(box[3], rect[3])];
    if (clip[0] >= clip[2] || clip[1] >= clip[3]) return;
    const area = (clip[2] - clip[0]) * (clip[3] - clip[1]);
    if (area > 0.5 * (rect[2] - rect[0]) * (rect[3] - rect[1]) || boxes.length > 200) {
      this.needsRebuild = true;
      return;
    }
    // Clip to whole device pixels: a fractional clip would leave anti-aliased seams.
    const view = this.frontView;
    const s = view.zoom * this.dpr;
    const px0 = Math.floor((clip[0] - view.x) * s) - 1;
    const py0 = Math.floor((clip[1] - view.y) * s) - 1;
    const px1 = Math.ceil((clip[2] - view.x) * s) + 1;
    const py1 = Math.ceil((clip[3] - view.y) * s) + 1;
    const region = [view.x + px0 / s, view.y + py0 / s, view.x + px1 / s, view.y + py1 / s];
    const ctx = this.frontCtx;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.beginPath();
    ctx.rect(px0, py0, px1 - px0, py1 - py0);
    ctx.clip();
    ctx.clearRect(px0, py0, px1 - px0, py1 - py0);
    this.#applyTransform(ctx, view);
    for (const rec of this.board.order) {
      if (rec.visible && this.#intersects(rec.bbox, region) && !this.sources.isHidden(rec.id)) this.#drawRecord(ctx, rec);
    }
    ctx.restore();
  }

  /** @returns {boolean} a rebuild of the committed layer is still running */
  get busy() {
    return this.job !== null || this.needsRebuild;
  }

  /**
   * Compose one frame: advance the rebuild, show the committed cache, draw overlays on top.
   * @returns {boolean} true when another frame is needed (rebuild unfinished)
   */
  frame() {
    const started = performance.now();
    // A rebuild in progress is finished before the next starts, even if the view moved on: on a
    // huge board a continuous pan then still refreshes the cache every few frames.
    if (this.needsRebuild && !this.job) {
      this.needsRebuild = false;
      this.#startJob();
    }
    if (this.job) this.#runJob(started + REBUILD_BUDGET_MS);
    this.addedThisFrame = 0;
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    if (this.frontView) {
      const k = this.view.zoom / this.frontView.zoom;
      const dx = (this.frontView.x - this.view.x) * this.view.zoom * this.dpr;
      const dy = (this.frontView.y - this.view.y) * this.view.zoom * this.dpr;
      ctx.setTransform(k, 0, 0, k, dx, dy);
      ctx.imageSmoothingEnabled = k !== 1;
      ctx.drawImage(this.front, 0, 0);
    }
    this.#applyTransform(ctx, this.view);
    const rect = this.#viewRect(this.view);
    for (const op of this.sources.overlays()) {
      const cached = this.#overlayBuilt(op);
      if (this.#intersects(cached.bbox, rect)) paintStroke(ctx, op, cached.built);
    }
    this.stats.lastFrameMs = performance.now() - started;
    this.frameTimes.push(this.stats.lastFrameMs);
    if (this.frameTimes.length > 240) this.frameTimes.shift();
    return this.job !== null || this.needsRebuild;
  }

  #overlayBuilt(op) {
    const version = op.version ?? 0;
    let cached = this.overlayCache.get(op);
    if (!cached || cached.version !== version) {
      const abs = absolutePoints(op.pts);
      let bbox = [Infinity, Infinity, -Infinity, -Infinity];
      for (let i = 0; i + 1 < abs.length; i += 2) {
        bbox = [Math.min(bbox[0], abs[i]), Math.min(bbox[1], abs[i + 1]), Math.max(bbox[2], abs[i]), Math.max(bbox[3], abs[i + 1])];
      }
      const pad = op.width / 2 + 1;
      bbox = [bbox[0] - pad, bbox[1] - pad, bbox[2] + pad, bbox[3] + pad];
      cached = { version, built: buildStroke(op, abs), abs, bbox };
      this.overlayCache.set(op, cached);
    }
    return cached;
  }

  #startJob() {
    const ctx = this.backCtx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.back.width, this.back.height);
    const view = { ...this.view };
    this.job = { view, index: 0, rect: this.#viewRect(view), drawn: 0 };
    this.stats.rebuildStart = performance.now();
    this.#applyTransform(ctx, view);
  }

  #runJob(deadline) {
    const job = this.job;
    const ctx = this.backCtx;
    this.#applyTransform(ctx, job.view);
    const order = this.board.order;
    while (job.index < order.length) {
      const rec = order[job.index++];
      if (rec.visible && this.#intersects(rec.bbox, job.rect) && !this.sources.isHidden(rec.id)) {
        this.#drawRecord(ctx, rec);
        job.drawn += 1;
        if ((job.drawn & 15) === 0) {
          ctx.getImageData(0, 0, 1, 1); // flush: rasterise what was recorded so far
          if (performance.now() > deadline) return;
        }
      }
    }
    [this.front, this.back] = [this.back, this.front];
    [this.frontCtx, this.backCtx] = [this.backCtx, this.frontCtx];
    this.frontView = job.view;
    this.stats.rebuilds += 1;
    this.stats.strokesDrawn = job.drawn;
    this.stats.lastRebuildMs = performance.now() - this.stats.rebuildStart;
    this.job = null;
  }

  #drawRecord(ctx, rec) {
    if (!rec.built) rec.built = buildStroke(rec.op, rec.abs);
    paintStroke(ctx, rec.op, rec.built);
  }

  #applyTransform(ctx, view) {
    const s = view.zoom * this.dpr;
    ctx.setTransform(s, 0, 0, s, -view.x * s, -view.y * s);
  }

  #viewRect(view) {
    return [view.x, view.y, view.x + this.width / view.zoom, view.y + this.height / view.zoom];
  }

  #intersects(a, b) {
    return a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];
  }
}
