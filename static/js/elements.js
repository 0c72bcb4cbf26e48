/**
 * How each kind of board element is drawn (docs/protocol.md, Rendering): strokes, text, sticky
 * notes and images. The layer renderer culls, orders and schedules them without knowing what they
 * are; the page draws its overlays (previews, pending elements) with the same functions.
 *
 * An element is what the layer holds for one committed board element: `kind`, `bbox`
 * ([minX, minY, maxX, maxY] in board units, ink included, for culling), `visible`, `z` (drawing
 * order), and the kind's own fields (`elementOf` in board.js makes one from a record). Strokes come
 * with their points already placed; text, notes and images carry their placement `m`, applied as
 * the canvas transform. `draw(ctx, element, detail)` draws it with `ctx`'s transform mapping board
 * units to pixels; `detail` says how small it is drawn (`levelOfDetail`).
 */
import { getImage } from "./images.js";
import { paintCurrentPath, simplifyPoints, strokeGeometry, traceGeometry } from "./render.js";
import { fillLines, NOTE_PADDING, NOTE_TEXT_COLOR } from "./text.js";

/**
 * Largest distance, in device pixels, by which a simplified spline or outline may depart from
 * the full one. Half a pixel keeps the picture within the page's own anti-aliasing noise
 * (tests/browser/test_big_board.py compares with a full-detail render) while a board seen whole
 * at 17% needs about half the segments.
 */
export const LOD_TOLERANCE_PX = 0.5;

/**
 * @typedef {object} Detail  how small the layer is drawn
 * @property {number} level  floor(log2(device pixels per board unit)); one cache entry per level
 * @property {number} tolerance  board units a simplified path may move (0: draw every point)
 */

/**
 * The detail for a drawing scale. Levels are powers of two, so panning and small zooms reuse the
 * cached simplifications; the tolerance is set for the largest scale of the level.
 * @param {number} pixelsPerUnit  zoom x device pixel ratio
 * @returns {Detail}
 */
export function levelOfDetail(pixelsPerUnit) {
  const level = Math.floor(Math.log2(pixelsPerUnit));
  if (level >= 0) return { level, tolerance: 0 }; // a unit covers a pixel or more: every point
  return { level, tolerance: LOD_TOLERANCE_PX / 2 ** (level + 1) };
}

/** Strokes: the geometry is built once (a pressure outline is costly), simplified per level. */
const stroke = {
  /**
   * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
   * @param {{tool: string, color: string, width: number, p: ArrayLike<number>|null,
   *          pts: Float64Array, geometry?: object, lod?: object}} element
   * @param {Detail} detail
   */
  draw(ctx, element, detail) {
    if (!element.geometry) element.geometry = strokeGeometry(element, element.pts);
    const geometry = element.geometry;
    let pts = geometry.pts;
    if (detail.tolerance > 0 && (geometry.shape === "spline" || geometry.shape === "polygon") &&
        denserThan(element.bbox, pts.length >> 1, detail.tolerance)) {
      if (!element.lod) element.lod = {};
      pts = element.lod[detail.level];
      if (!pts) {
        pts = simplifyPoints(geometry.pts, detail.tolerance);
        element.lod[detail.level] = pts;
      }
    }
    ctx.beginPath();
    traceGeometry(ctx, geometry, pts);
    paintCurrentPath(ctx, element, geometry);
  },
};

/**
 * Are a path's points, on average, closer together than `tolerance`? Only then does simplifying
 * pay: at 17% the benchmark's strokes (4.5 units between points) would lose a sixth of their
 * points, saving less rasterising than the simplification costs (docs/performance.md).
 * @param {ArrayLike<number>} bbox
 * @param {number} count
 * @param {number} tolerance
 * @returns {boolean}
 */
function denserThan(bbox, count, tolerance) {
  return (bbox[2] - bbox[0] + bbox[3] - bbox[1]) < tolerance * count;
}

/**
 * Run `draw` with the element's placement `m` composed onto the context's transform.
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {ArrayLike<number>} m
 * @param {function(): void} draw
 */
function placed(ctx, m, draw) {
  ctx.save();
  ctx.globalAlpha = 1;
  ctx.transform(m[0], 0, 0, m[1], m[2], m[3]);
  draw();
  ctx.restore();
}

/** Text: `lines` (as drawn: text.js `textLines`) from its top-left corner `x, y`. */
const text = {
  draw(ctx, element) {
    placed(ctx, element.m, () => fillLines(ctx, element.lines, element.x, element.y, element.size, element.color));
  },
};

/** A sticky note: its paper (`box`, own coordinates), then its text inset by the padding. */
const note = {
  draw(ctx, element) {
    placed(ctx, element.m, () => {
      const [x0, y0, x1, y1] = element.box;
      ctx.fillStyle = element.color;
      ctx.fillRect(x0, y0, x1 - x0, y1 - y0);
      const pad = NOTE_PADDING * element.size;
      fillLines(ctx, element.lines, element.x + pad, element.y + pad, element.size, NOTE_TEXT_COLOR);
    });
  },
};

/** Placeholder paper of an image still loading (or that failed to load). */
const IMAGE_PLACEHOLDER = "#e8eaed";

/**
 * An image scaled into its box. While it loads a grey box stands in; `onImage` on the element
 * (set by whoever draws it) hears when it can be drawn.
 */
const image = {
  draw(ctx, element) {
    const bitmap = getImage(element.url, () => element.onImage?.(element));
    placed(ctx, element.m, () => {
      if (bitmap) {
        ctx.imageSmoothingEnabled = true;
        ctx.imageSmoothingQuality = "medium"; // bilinear with mipmaps: the export's sampling
        ctx.drawImage(bitmap, element.x, element.y, element.w, element.h);
      } else {
        ctx.fillStyle = IMAGE_PLACEHOLDER;
        ctx.fillRect(element.x, element.y, element.w, element.h);
      }
    });
  },
};

/** @type {Record<string, {draw: function(object, object, Detail): void}>} */
export const ELEMENT_KINDS = { stroke, text, note, image };

/** Full detail: every point (previews, the few elements drawn on the page). */
export const FULL_DETAIL = Object.freeze({ level: 0, tolerance: 0 });

/**
 * Draw one element (any kind) with `ctx`'s transform mapping board units to pixels.
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {object} element
 * @param {Detail} [detail]
 */
export function drawElement(ctx, element, detail = FULL_DETAIL) {
  ELEMENT_KINDS[element.kind].draw(ctx, element, detail);
}
