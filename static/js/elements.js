/**
 * How each kind of board element is drawn on the committed layer. Today every element is a
 * stroke; text, sticky notes and images add an entry here (and their bounds in board.js), and the
 * layer renderer culls, orders and schedules them without knowing what they are.
 *
 * An element is what the layer holds for one committed board element: `kind`, `bbox`
 * ([minX, minY, maxX, maxY] in board units, ink included, for culling), `visible`, and the kind's
 * own fields. `draw(ctx, element, detail)` draws it with `ctx`'s transform mapping board units to
 * pixels; `detail` says how small it is drawn (`levelOfDetail`).
 */
import { paintCurrentPath, simplifyPoints, strokeGeometry, traceGeometry } from "./render.js";

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

/** @type {Record<string, {draw: function(object, object, Detail): void}>} */
export const ELEMENT_KINDS = { stroke };
