/**
 * The committed layer's rasteriser: holds the board's elements in drawing order and paints the
 * ones in view onto its own canvas, then hands out snapshots (ImageBitmaps) for the page to
 * compose. It runs in a worker (`layer-worker.js`, on an OffscreenCanvas) so that a big board is
 * drawn on another core while the page decodes, applies and stays responsive; where workers
 * cannot draw it runs on the page in slices (`layer.js`).
 *
 * Messages in (`receive`), in order, from the page's mirror of the board:
 * - `{type: "add", strokes}`: strokes appended (index = arrival order), packed (committed.js
 *   `packStrokes`); `{type: "add", elements}`: other kinds, as `elementOf` makes them;
 * - `{type: "visibility", changes: [index, 0|1, ...], version}`: elements hidden or shown;
 * - `{type: "update", elements: [[index, element], ...], version}`: elements moved, resized,
 *   reordered or edited: each replaces the one at its index (its visibility stays);
 * - `{type: "view", view: {x, y, zoom, width, height, dpr, top, rows}}`: what to draw: the view
 *   (CSS pixels), of which this renderer draws device-pixel rows top .. top + rows (a band);
 * - `{type: "reset", visibility}`: the board starts again from nothing (at that visibility version).
 *
 * A view is drawn by a job, in slices: elements whose box meets the view, in drawing order (their
 * `z`: arrival order until someone reorders), at the level of detail of its scale (elements.js).
 * Elements added while a job runs are drawn by it (they come last);
 * shown or hidden ones it already passed are redrawn in their region when it ends. An idle layer
 * draws new elements on top and redraws the region of hidden or shown ones at once. Every snapshot
 * says what it holds (`FrameInfo`), so the page knows when the picture is complete.
 */
import { intersects, sameView, viewRect } from "./boxes.js";
import { drawElement, levelOfDetail } from "./elements.js";

/**
 * A region redraw covering more than this share of the view, or more elements' boxes than
 * MAX_REGION_BOXES, redraws the whole view instead (clipping would save little).
 */
const MAX_REGION_SHARE = 0.5;
const MAX_REGION_BOXES = 200;
/** New elements drawn at once onto a finished view; a bigger batch (a replay) is a sliced job. */
const MAX_SYNC_ADDS = 64;

/**
 * @typedef {object} FrameInfo  what a snapshot holds
 * @property {number} serial  increasing; a later snapshot replaces an earlier one
 * @property {object} view  the view it was drawn for ({x, y, zoom, width, height, dpr})
 * @property {boolean} complete  every element added so far is drawn, at full detail for the view
 * @property {number} added  elements added when it was taken
 * @property {number} visibility  the version of the last visibility change it reflects
 * @property {object} stats  jobs, lastJobMs, lastJobDrawn; readyAt (the renderer's start),
 *   startedAt/endedAt of the last job, takenAt of this snapshot: epoch ms, for timelines
 */

/** Draws the committed layer for one view at a time; see the module comment. */
export class LayerRenderer {
  /**
   * @param {OffscreenCanvas|HTMLCanvasElement} canvas  drawn on; sized to each view
   * @param {function(FrameInfo, ImageBitmap): void} emit  hands a snapshot to the page
   * @param {{sliceMs: number, progressMs: number, schedule: (function(function(): void): void)|null,
   *          fontsPending?: boolean}} options
   *   sliceMs: drawing between two looks at the message queue; progressMs: how often a long job
   *   shows what it has so far; schedule: runs a function after the messages already queued
   *   (null: the owner calls `pump` for slices, and snapshots wait for the current task's end);
   *   fontsPending: the board fonts are still loading (the owner calls `fontsLoaded`): until then
   *   text and notes are left out, never drawn with a stand-in font, and no snapshot that should
   *   hold one is complete
   */
  constructor(canvas, emit, options) {
    this.canvas = canvas;
    // A CPU-backed canvas: each slice is flushed (a 1-pixel read) so slices mean real work.
    this.ctx = canvas.getContext("2d", { willReadFrequently: true });
    this.emit = emit;
    this.options = options;
    /** @type {object[]} by index (arrival order) */
    this.elements = [];
    /** @type {object[]|null} in drawing order when that is not arrival order (after a `z`) */
    this.sorted = null;
    this.visibility = 0;
    /** @type {object|null} the view to draw next */
    this.target = null;
    /** @type {object|null} the view the canvas holds, when no job runs */
    this.drawnView = null;
    /** @type {object|null} */
    this.job = null;
    this.serial = 0;
    this.emitQueued = false;
    this.slicePending = false;
    this.fontsPending = options.fontsPending ?? false;
    this.stats = {
      jobs: 0, lastJobMs: 0, lastJobDrawn: 0, startedAt: 0, endedAt: 0,
      readyAt: performance.timeOrigin + performance.now(), takenAt: 0,
    };
  }

  /** @param {object} message  see the module comment */
  receive(message) {
    switch (message.type) {
      case "add":
        this.#add(message.strokes ? unpackStrokes(message.strokes) : message.elements);
        break;
      case "visibility":
        this.#visibility(message.changes, message.version);
        break;
      case "update":
        this.#update(message.elements, message.version);
        break;
      case "view":
        this.target = message.view;
        if (!this.job && !sameView(this.target, this.drawnView)) this.#startJob(this.target);
        break;
      case "reset":
        this.elements = [];
        this.sorted = null;
        this.visibility = message.visibility ?? 0;
        this.job = null;
        this.drawnView = null;
        if (this.target) this.#startJob(this.target);
        break;
      default:
        break;
    }
  }

  /**
   * Draw for about `budgetMs` (when the owner schedules slices, as on the page).
   * @param {number} budgetMs
   * @returns {boolean} work remains
   */
  pump(budgetMs) {
    if (this.job) this.#runJob(budgetMs);
    return this.job !== null;
  }

  #add(elements) {
    const first = this.elements.length;
    for (const element of elements) {
      element.index = this.elements.length;
      this.#adopt(element);
      this.elements.push(element);
      this.sorted?.push(element); // a new element is above all (its z is the highest)
    }
    if (this.job || !this.drawnView) return; // the running job draws them: they come last
    const view = this.drawnView;
    if (elements.length > MAX_SYNC_ADDS) {
      this.#startJob(view, first); // on top of what is drawn, in slices, showing progress
      return;
    }
    const rect = viewRect(view);
    const detail = levelOfDetail(view.zoom * view.dpr);
    this.#applyTransform(view);
    for (let i = first; i < this.elements.length; i++) {
      const element = this.elements[i];
      if (element.visible && intersects(element.bbox, rect)) this.#draw(element, detail);
    }
    this.#queueEmit();
  }

  /** The board fonts are in: the text and notes left out until now are drawn. */
  fontsLoaded() {
    this.fontsPending = false;
    const boxes = this.elements.filter((element) => element.visible && needsFonts(element))
      .map((element) => element.bbox);
    if (boxes.length === 0) return; // no snapshot was incomplete for want of fonts
    if (this.job) this.job.dirty.push(...boxes);
    else if (this.drawnView) {
      this.#redrawRegions(boxes, this.drawnView);
      if (!this.job) this.#queueEmit();
    }
  }

  /** `drawElement`, leaving out text and notes while the fonts load. */
  #draw(element, detail) {
    if (this.fontsPending && needsFonts(element)) return;
    drawElement(this.ctx, element, detail);
  }

  /** An image element redraws its region once it has loaded. */
  #adopt(element) {
    if (element.kind === "image") element.onImage = (loaded) => this.#redrawElement(loaded);
  }

  #redrawElement(element) {
    if (!element.visible || this.elements[element.index] !== element) return;
    if (this.job) this.job.dirty.push(element.bbox);
    else if (this.drawnView) {
      this.#redrawRegions([element.bbox], this.drawnView);
      if (!this.job) this.#queueEmit();
    }
  }

  #update(updates, version) {
    const boxes = [];
    let reordered = false;
    for (const [index, element] of updates) {
      const old = this.elements[index];
      if (!old) continue;
      element.visible = old.visible;
      element.index = index;
      this.#adopt(element);
      this.elements[index] = element;
      if (element.z !== old.z) reordered = true;
      if (old.visible) boxes.push(old.bbox, element.bbox);
    }
    this.visibility = version;
    if (reordered || this.sorted) {
      this.sorted = [...this.elements].sort((a, b) => a.z - b.z);
      if (this.sorted.every((element, i) => element === this.elements[i])) this.sorted = null;
    }
    if (this.job) {
      if (reordered) this.#startJob(this.job.view);
      else for (const box of boxes) this.job.dirty.push(box);
    } else if (this.drawnView) {
      if (boxes.length) this.#redrawRegions(boxes, this.drawnView);
      if (!this.job) this.#queueEmit();
    }
  }

  #visibility(changes, version) {
    const boxes = [];
    const job = this.job;
    for (let i = 0; i < changes.length; i += 2) {
      const index = changes[i];
      const element = this.elements[index];
      if (!element) continue;
      element.visible = changes[i + 1] === 1;
      // A running job has yet to reach the elements after its cursor: it will draw them right.
      if (!job || index < job.index || this.sorted) boxes.push(element.bbox);
    }
    this.visibility = version;
    if (job) {
      for (const box of boxes) job.dirty.push(box);
    } else if (this.drawnView) {
      if (boxes.length) this.#redrawRegions(boxes, this.drawnView);
      if (!this.job) this.#queueEmit();
    }
  }

  /**
   * Draw `view` from element `from` on: from 0 on a cleared canvas, or further elements on top
   * of a finished picture of the same view.
   */
  #startJob(view, from = 0) {
    if (from === 0) {
      const width = Math.max(1, Math.round(view.width * view.dpr));
      const height = view.rows;
      if (this.canvas.width !== width || this.canvas.height !== height) {
        this.canvas.width = width; // also clears it
        this.canvas.height = height;
      } else {
        this.ctx.setTransform(1, 0, 0, 1, 0, 0);
        this.ctx.clearRect(0, 0, width, height);
      }
    }
    this.drawnView = null;
    const now = performance.now();
    this.job = {
      view, rect: viewRect(view), detail: levelOfDetail(view.zoom * view.dpr),
      index: from, drawn: 0, dirty: [], started: now, lastEmit: now,
    };
    this.stats.startedAt = performance.timeOrigin + now;
    this.#scheduleSlice();
  }

  #scheduleSlice() {
    if (!this.options.schedule || this.slicePending) return;
    this.slicePending = true;
    this.options.schedule(() => {
      this.slicePending = false;
      if (this.job) this.#runJob(this.options.sliceMs);
    });
  }

  #runJob(budgetMs) {
    const job = this.job;
    const ctx = this.ctx;
    const deadline = performance.now() + budgetMs;
    this.#applyTransform(job.view);
    const elements = this.sorted ?? this.elements;
    while (job.index < elements.length) {
      const element = elements[job.index++];
      if (!element.visible || !intersects(element.bbox, job.rect)) continue;
      this.#draw(element, job.detail);
      job.drawn += 1;
      if ((job.drawn & 31) === 0) {
        ctx.getImageData(0, 0, 1, 1); // flush: rasterise what was recorded so far
        if (performance.now() > deadline) break;
      }
    }
    const now = performance.now();
    if (job.index < elements.length) {
      if (now - job.lastEmit >= this.options.progressMs) {
        job.lastEmit = now;
        this.#snapshot(job.view, false);
      }
      this.#scheduleSlice();
      return;
    }
    this.job = null;
    this.drawnView = job.view;
    if (job.dirty.length) this.#redrawRegions(job.dirty, job.view);
    if (this.job) return; // the dirty regions asked for a whole new job
    const ended = performance.now();
    Object.assign(this.stats, {
      jobs: this.stats.jobs + 1, lastJobMs: ended - job.started, lastJobDrawn: job.drawn,
      endedAt: performance.timeOrigin + ended,
    });
    this.#snapshot(job.view, true);
    if (this.target && !sameView(this.target, job.view)) this.#startJob(this.target);
  }

  /** Redraw what lies under `boxes` (elements hidden or shown), or the whole view if that is most. */
  #redrawRegions(boxes, view) {
    const rect = viewRect(view);
    let box = null;
    for (const b of boxes) {
      box = box ? [Math.min(box[0], b[0]), Math.min(box[1], b[1]), Math.max(box[2], b[2]), Math.max(box[3], b[3])] : [...b];
    }
    const clip = [Math.max(box[0], rect[0]), Math.max(box[1], rect[1]), Math.min(box[2], rect[2]), Math.min(box[3], rect[3])];
    if (clip[0] >= clip[2] || clip[1] >= clip[3]) return;
    const area = (clip[2] - clip[0]) * (clip[3] - clip[1]);
    if (area > MAX_REGION_SHARE * (rect[2] - rect[0]) * (rect[3] - rect[1]) || boxes.length > MAX_REGION_BOXES) {
      this.#startJob(view);
      return;
    }
    // Clip to whole device pixels: a fractional clip would leave anti-aliased seams.
    const s = view.zoom * view.dpr;
    const px0 = Math.floor((clip[0] - view.x) * s) - 1;
    const py0 = Math.floor((clip[1] - view.y) * s) - 1 - view.top;
    const px1 = Math.ceil((clip[2] - view.x) * s) + 1;
    const py1 = Math.ceil((clip[3] - view.y) * s) + 1 - view.top;
    const region = [view.x + px0 / s, view.y + (py0 + view.top) / s, view.x + px1 / s, view.y + (py1 + view.top) / s];
    const ctx = this.ctx;
    ctx.save();
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.beginPath();
    ctx.rect(px0, py0, px1 - px0, py1 - py0);
    ctx.clip();
    ctx.clearRect(px0, py0, px1 - px0, py1 - py0);
    this.#applyTransform(view);
    const detail = levelOfDetail(s);
    for (const element of this.sorted ?? this.elements) {
      if (element.visible && intersects(element.bbox, region)) this.#draw(element, detail);
    }
    ctx.restore();
  }

  #queueEmit() {
    if (this.emitQueued) return;
    this.emitQueued = true;
    // After the messages already queued: a burst of changes becomes one snapshot.
    const later = this.options.schedule || queueMicrotask;
    later(() => {
      this.emitQueued = false;
      if (!this.job && this.drawnView) this.#snapshot(this.drawnView, true);
    });
  }

  #snapshot(view, complete) {
    const waitsForFonts = this.fontsPending
      && this.elements.some((element) => element.visible && needsFonts(element));
    /** @type {FrameInfo} */
    const info = {
      serial: ++this.serial, view, complete: complete && !waitsForFonts, added: this.elements.length,
      visibility: this.visibility,
      stats: { ...this.stats, takenAt: performance.timeOrigin + performance.now() },
    };
    // The copy is taken now; only the ImageBitmap's delivery waits for the promise.
    createImageBitmap(this.canvas).then((bitmap) => this.emit(info, bitmap));
  }

  #applyTransform(view) {
    const s = view.zoom * view.dpr;
    this.ctx.setTransform(s, 0, 0, s, -view.x * s, -view.y * s - view.top);
  }
}

/** @returns {boolean} the element is drawn with the board fonts */
function needsFonts(element) {
  return element.kind === "text" || element.kind === "note";
}

/**
 * Packed strokes (committed.js `packStrokes`) -> stroke elements; points stay in the one buffer.
 * @param {object} packed
 * @returns {object[]}
 */
export function unpackStrokes(packed) {
  const { count, offsets, points, bboxes, widths, visible, tools, colors, pressure, zs } = packed;
  const elements = new Array(count);
  for (let i = 0; i < count; i++) {
    elements[i] = {
      kind: "stroke", tool: tools[i], color: colors[i], width: widths[i], p: pressure[i],
      pts: points.subarray(offsets[i], offsets[i + 1]), bbox: bboxes.subarray(4 * i, 4 * i + 4),
      visible: visible[i] === 1, geometry: null, lod: null, z: zs[i],
    };
  }
  return elements;
}
