/**
 * The drawing surface: a pan/zoom view over the infinite board, composed once per frame from the
 * committed layer and the overlays.
 *
 * - The committed layer (committed.js) is drawn by a renderer in a worker (layer-renderer.js) for
 *   one view at a time; until the renderer has drawn a new view, its last picture is shown moved
 *   and scaled to it. Far from the view's scale, strokes are drawn with the points that show
 *   (level of detail, elements.js); the finished picture is the same as drawing every point.
 * - Live and not-yet-committed strokes are drawn each frame on top, from cached Path2D objects.
 *
 * - Until the layer is complete for the first time, the server's picture of the view the page
 *   opened at (the inline script in index.html) may stand in for it, moved and scaled with the view.
 *
 * "Drawn": the first frame that shows the whole board as it is (every op of the replay applied,
 * the layer complete for this view) sets `stats.drawnMs` and the performance mark
 * `whiteboard:drawn`; `busy` says whether the picture on show is incomplete right now. The first
 * picture is the whole board as it is when it shows the board at the seq the page joined at
 * (nothing applied since) for the very view and size on screen; the signal then takes the time it
 * was first shown (`stats.firstPictureShownMs`), learnt once the welcome told the seq.
 */
import { CommittedLayer } from "./committed.js";
import { drawElement } from "./elements.js";
import { absolutePoints } from "./points.js";
import { buildStroke, paintStroke } from "./render.js";

export const MIN_ZOOM = 0.02;
export const MAX_ZOOM = 32;

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
   * @param {{overlays: function(): object[], isHidden: function(string): boolean,
   *          caughtUp?: function(): boolean, overlayElements?: function(): object[],
   *          mediaBase?: function(): string, joinedSeq?: function(): number|null}} sources
   *   caughtUp: every op the server had when this page joined is applied (absent: always);
   *   joinedSeq: the board's seq when this page joined (null: not yet); overlayElements: elements drawn on top
   *   (previews of text being typed and of elements being moved, pending ones), as
   *   committed.js `elementOf` makes them; mediaBase: the board's media URL prefix
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
    this.committed = new CommittedLayer(board, (id) => sources.isHidden(id), sources.mediaBase);
    /** The server's picture of the opening view while it stands in for the layer (index.html's inline script). */
    this.firstPicture = window.__whiteboardFirstPicture ?? null;
    /** @type {WeakMap<object, {version: number, built: object, abs: Float64Array, bbox: number[]}>} */
    this.overlayCache = new WeakMap();
    this.syncQueued = false;
    this.complete = false;
    /** What the last composed frame showed, to skip composing an unchanged one. */
    this.shownKey = "";
    this.hadOverlays = false;
    /** @type {number[]} durations of the last frames' work (ms), for measurements */
    this.frameTimes = [];
    this.stats = {
      lastFrameMs: 0, rebuilds: 0, lastRebuildMs: 0, strokesDrawn: 0, renderer: "", bands: 0,
      drawnMs: null, firstAddMs: null, caughtUpMs: null, firstPictureMs: null, layerReadyMs: null,
      lastJobEndMs: null, lastSnapshotMs: null, firstPictureShownMs: null, layerCompleteMs: null,
    };
  }

  /** Match the canvas to its CSS size and the device pixel ratio. */
  resize() {
    const rect = this.canvas.getBoundingClientRect();
    this.width = Math.max(1, rect.width);
    this.height = Math.max(1, rect.height);
    this.dpr = window.devicePixelRatio || 1;
    this.canvas.width = Math.round(this.width * this.dpr);
    this.canvas.height = Math.round(this.height * this.dpr);
    this.shownKey = "";
  }

  /**
   * Set the view (pan/zoom); zoom is clamped.
   * @param {View} view
   */
  setView(view) {
    const zoom = Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, view.zoom));
    if (view.x === this.view.x && view.y === this.view.y && zoom === this.view.zoom) return;
    this.view = { x: view.x, y: view.y, zoom };
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

  /** Everything on the committed layer must be checked again (after a board reset). */
  invalidateAll() {
    this.committed.invalidateAll();
  }

  /**
   * A committed stroke was added: the layer gets it at the end of this task (a replay's
   * thousands go over together, and the worker starts drawing while the page decodes more).
   * @param {import("./board.js").StrokeRecord} _rec
   */
  strokeAdded(_rec) {
    if (this.syncQueued) return;
    this.syncQueued = true;
    queueMicrotask(() => {
      this.syncQueued = false;
      this.committed.sync();
    });
  }

  /**
   * Strokes were hidden or shown: the layer redraws the region they cover.
   * @param {number[][]} boxes bounding boxes in board units
   */
  invalidateBoxes(boxes) {
    this.committed.invalidateBoxes(boxes);
  }

  /**
   * Elements were moved, resized, reordered or edited: the layer redraws them.
   * @param {import("./board.js").ElementRecord[]} records
   */
  elementsChanged(records) {
    this.committed.update(records);
  }

  /** @returns {boolean} the picture on show is not yet the whole board for this view */
  get busy() {
    return !this.complete;
  }

  /**
   * Compose one frame: bring the layer up to date, show its picture, draw overlays on top.
   * @returns {boolean} true when another frame is needed (the layer is still drawing)
   */
  frame() {
    const started = performance.now();
    const layerView = { ...this.view, width: this.width, height: this.height, dpr: this.dpr };
    const committed = this.committed;
    committed.sync();
    committed.setView(layerView);
    const pumping = committed.pump();
    const overlays = this.sources.overlays();
    const elements = this.sources.overlayElements ? this.sources.overlayElements() : [];
    if (elements.length) overlays.push(...elements);
    const caughtUp = this.sources.caughtUp ? this.sources.caughtUp() : true;
    const layerComplete = caughtUp && committed.isComplete(layerView);
    const standIn = this.#placeFirstPicture(layerComplete);
    const key = `${committed.serial},${this.view.x},${this.view.y},${this.view.zoom},${this.canvas.width},${committed.sent},${standIn}`;
    if (key !== this.shownKey || committed.fresh || overlays.length > 0 || this.hadOverlays) {
      this.shownKey = key;
      this.hadOverlays = overlays.length > 0;
      this.#compose(layerView, overlays, standIn === "none");
    }
    this.complete = layerComplete || standIn === "exact";
    this.#record(started, caughtUp, layerComplete);
    return !this.complete || pumping || standIn !== "none";
  }

  /**
   * Show the first picture for the current view while the layer is not yet complete, retire it
   * once it is. (The layer's partial picture is not drawn under it: its anti-aliased edges over
   * the same strokes in the picture would darken them.)
   * @param {boolean} layerComplete
   * @returns {"none"|"moved"|"exact"} none: no picture on show (the layer is drawn); moved: on
   *   show, but not the board as it is in this view; exact: the whole board as it is
   */
  #placeFirstPicture(layerComplete) {
    const picture = this.firstPicture;
    if (!picture) return "none";
    if (layerComplete) {
      picture.retired = true;
      if (picture.img) {
        picture.img.remove();
        URL.revokeObjectURL(picture.img.src);
      }
      this.firstPicture = null;
      return "none";
    }
    if (!picture.img || picture.shownMs === null) return "none";
    const { view } = this;
    const shown = picture.view;
    const corner = picture.corner;
    const scale = view.zoom / corner.zoom;
    let dx = (corner.x - view.x) * view.zoom;
    let dy = (corner.y - view.y) * view.zoom;
    if (scale === 1) { // whole device pixels (the server picked the view so): no resampling
      dx = Math.round(dx * this.dpr) / this.dpr;
      dy = Math.round(dy * this.dpr) / this.dpr;
    }
    picture.img.style.transform = `translate(${dx}px, ${dy}px) scale(${scale})`;
    const joined = this.sources.joinedSeq ? this.sources.joinedSeq() : null;
    const exact = joined === picture.seq && this.board.seq <= picture.seq &&
      view.x === shown.x && view.y === shown.y && view.zoom === shown.zoom &&
      this.width === picture.width && this.height === picture.height && this.dpr === picture.dpr;
    this.stats.firstPictureShownMs = picture.shownMs;
    return exact ? "exact" : "moved";
  }

  #compose(layerView, overlays, withLayer = true) {
    const ctx = this.ctx;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const rect = this.#viewRect(this.view);
    if (withLayer) this.committed.draw(ctx, layerView, rect);
    else this.committed.fresh = false; // its new snapshots wait under the picture: no frame each
    this.#applyTransform(ctx, this.view);
    for (const op of overlays) {
      if (op.kind) {
        if (!this.#intersects(op.bbox, rect)) continue;
        ctx.save();
        drawElement(ctx, op);
        ctx.restore();
        continue;
      }
      const cached = this.#overlayBuilt(op);
      if (this.#intersects(cached.bbox, rect)) paintStroke(ctx, op, cached.built);
    }
  }

  #record(started, caughtUp, layerComplete) {
    const stats = this.stats;
    const now = performance.now();
    const fronts = this.committed.fronts.filter(Boolean);
    if (fronts.length) {
      stats.rebuilds = Math.min(...fronts.map((f) => f.stats.jobs));
      stats.lastRebuildMs = Math.max(...fronts.map((f) => f.stats.lastJobMs));
      stats.strokesDrawn = fronts.reduce((sum, f) => sum + f.stats.lastJobDrawn, 0);
      stats.firstPictureMs ??= now;
      // The renderers' own clocks, as ms since this page's navigation: for timelines.
      const since = (epochMs) => Math.round(epochMs - performance.timeOrigin);
      stats.layerReadyMs = Math.max(...fronts.map((f) => since(f.stats.readyAt)));
      stats.lastJobEndMs = Math.max(...fronts.map((f) => since(f.stats.endedAt)));
      stats.lastSnapshotMs = Math.max(...fronts.map((f) => since(f.stats.takenAt)));
    }
    stats.bands = this.committed.layers.length;
    stats.renderer = this.committed.where;
    stats.firstAddMs = this.committed.firstAddMs;
    if (caughtUp && stats.firstAddMs !== null) stats.caughtUpMs ??= now;
    if (layerComplete) stats.layerCompleteMs ??= now;
    if (this.complete && stats.drawnMs === null) {
      // Shown by the first picture: drawn since it first showed (the board has not changed since).
      stats.drawnMs = layerComplete ? now : stats.firstPictureShownMs;
      performance.mark("whiteboard:drawn", { startTime: stats.drawnMs });
    }
    stats.lastFrameMs = now - started;
    this.frameTimes.push(stats.lastFrameMs);
    if (this.frameTimes.length > 240) this.frameTimes.shift();
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
