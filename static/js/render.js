/**
 * How one stroke is drawn, exactly as docs/protocol.md "Rendering" says, so every client and the
 * server's export draw the same picture. Pure: no DOM beyond the 2D context and Path2D it is
 * handed, no app state. `drawStroke(ctx, op)` is the contract other code (and the export's
 * comparison test) relies on; the rest lets the canvas cache built paths per stroke.
 */
import { getStroke } from "../vendor/perfect-freehand/index.mjs";
import { LIMITS } from "./limits.js";
import { absolutePoints } from "./points.js";

const PRESSURE_SCALE = LIMITS.pressureScale;

/** Opacity of the highlighter, drawn as one path so its own overlaps do not darken. */
export const HIGHLIGHTER_ALPHA = 0.35;

/**
 * perfect-freehand options for pressure strokes (docs/protocol.md Rendering); `size` is the width.
 * @param {number} width
 */
export function freehandOptions(width) {
  return {
    size: width,
    thinning: 0.6,
    smoothing: 0.5,
    streamline: 0.5,
    simulatePressure: false,
    last: true,
  };
}

/**
 * @typedef {object} StrokeOp  a committed-op-shaped stroke
 * @property {string} tool  pen | highlighter | line | rect | ellipse
 * @property {string} color  #rrggbb
 * @property {number} width  board units
 * @property {ArrayLike<number>} pts  delta-coded quanta
 * @property {ArrayLike<number>} [p]  pressure 0..100 per point
 */

/**
 * @typedef {object} StrokeGeometry  what a stroke traces, decided once per stroke
 * @property {"spline"|"polygon"|"dot"|"line"|"rect"|"ellipse"|"empty"} shape
 * @property {Float64Array} pts  spline: the stroke's points; polygon: the outline of a pressure
 *   pen; dot: its centre; line, rect, ellipse: the two points
 * @property {number} radius  of a dot
 * @property {"stroke"|"fill"} paint  stroke the path with `width`, or fill it (nonzero)
 * @property {number} alpha
 */

/**
 * @typedef {object} BuiltStroke  a stroke turned into one path, reusable at any transform
 * @property {Path2D} path
 * @property {"stroke"|"fill"} paint  stroke the path with `width`, or fill it (nonzero)
 * @property {number} alpha
 */

/**
 * Decide how a stroke is drawn (docs/protocol.md Rendering): the only place that knows the rules.
 * @param {StrokeOp} op
 * @param {Float64Array} [abs] the stroke's absolute points, if already decoded
 * @returns {StrokeGeometry}
 */
export function strokeGeometry(op, abs = absolutePoints(op.pts)) {
  const count = abs.length >> 1;
  const alpha = op.tool === "highlighter" ? HIGHLIGHTER_ALPHA : 1;
  const geometry = (shape, pts, paint) => ({ shape, pts, radius: op.width / 2, paint, alpha });
  if (count === 0) return geometry("empty", abs, "fill");
  if (op.tool === "line" || op.tool === "rect" || op.tool === "ellipse") {
    const two = count > 1 ? abs.subarray(0, 4) : Float64Array.of(abs[0], abs[1], abs[0], abs[1]);
    return geometry(op.tool, two, "stroke");
  }
  if (op.tool === "pen" && op.p && op.p.length === count) {
    const input = new Array(count);
    for (let i = 0; i < count; i++) {
      input[i] = [abs[2 * i], abs[2 * i + 1], op.p[i] / PRESSURE_SCALE];
    }
    const outline = getStroke(input, freehandOptions(op.width));
    const flat = new Float64Array(outline.length * 2);
    for (let i = 0; i < outline.length; i++) {
      flat[2 * i] = outline[i][0];
      flat[2 * i + 1] = outline[i][1];
    }
    return geometry("polygon", flat, "fill");
  }
  // pen without pressure, and the highlighter: a smoothed path through the points.
  if (count === 1) return geometry("dot", abs, "fill");
  return geometry("spline", abs, "stroke");
}

/**
 * Add a stroke's path to `path`: a Path2D, or a 2D context's current path (both speak CanvasPath).
 * @param {Path2D|CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} path
 * @param {StrokeGeometry} geometry
 * @param {ArrayLike<number>} [pts] the points to trace instead of `geometry.pts`: a simplified
 *   copy (`simplifyPoints`) when a spline or polygon is drawn small
 */
export function traceGeometry(path, geometry, pts = geometry.pts) {
  const count = pts.length >> 1;
  switch (geometry.shape) {
    case "empty":
      return;
    case "line":
      path.moveTo(pts[0], pts[1]);
      path.lineTo(pts[2], pts[3]);
      return;
    case "rect":
      path.rect(Math.min(pts[0], pts[2]), Math.min(pts[1], pts[3]),
        Math.abs(pts[2] - pts[0]), Math.abs(pts[3] - pts[1]));
      return;
    case "ellipse":
      path.ellipse((pts[0] + pts[2]) / 2, (pts[1] + pts[3]) / 2,
        Math.abs(pts[2] - pts[0]) / 2, Math.abs(pts[3] - pts[1]) / 2, 0, 0, 2 * Math.PI);
      return;
    case "dot":
      path.arc(pts[0], pts[1], geometry.radius, 0, 2 * Math.PI);
      return;
    case "polygon":
      if (count === 0) return;
      path.moveTo(pts[0], pts[1]);
      for (let i = 1; i < count; i++) path.lineTo(pts[2 * i], pts[2 * i + 1]);
      path.closePath();
      return;
    default: // spline
      path.moveTo(pts[0], pts[1]);
      for (let i = 1; i < count - 1; i++) {
        const x = pts[2 * i];
        const y = pts[2 * i + 1];
        path.quadraticCurveTo(x, y, (x + pts[2 * i + 2]) / 2, (y + pts[2 * i + 3]) / 2);
      }
      path.lineTo(pts[2 * count - 2], pts[2 * count - 1]);
  }
}

/**
 * Build the path of a stroke in board coordinates.
 * @param {StrokeOp} op
 * @param {Float64Array} [abs] the stroke's absolute points, if already decoded
 * @returns {BuiltStroke}
 */
export function buildStroke(op, abs = absolutePoints(op.pts)) {
  const geometry = strokeGeometry(op, abs);
  const path = new Path2D();
  traceGeometry(path, geometry);
  return { path, paint: geometry.paint, alpha: geometry.alpha };
}

/**
 * Paint a built stroke with its style onto `ctx` (whose transform maps board units).
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {StrokeOp} op
 * @param {BuiltStroke} built
 */
export function paintStroke(ctx, op, built) {
  ctx.save();
  setPaint(ctx, op, built);
  if (built.paint === "fill") ctx.fill(built.path, "nonzero");
  else ctx.stroke(built.path);
  ctx.restore();
}

/**
 * Paint the context's current path as the stroke `op` (after `traceGeometry(ctx, ...)`). Sets
 * every style property it relies on, so no save/restore is needed between strokes.
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {StrokeOp} op
 * @param {StrokeGeometry} geometry
 */
export function paintCurrentPath(ctx, op, geometry) {
  setPaint(ctx, op, geometry);
  if (geometry.paint === "fill") ctx.fill("nonzero");
  else ctx.stroke();
}

function setPaint(ctx, op, paint) {
  ctx.globalAlpha = paint.alpha;
  if (paint.paint === "fill") {
    ctx.fillStyle = op.color;
  } else {
    ctx.strokeStyle = op.color;
    ctx.lineWidth = op.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
  }
}

/**
 * Draw one stroke in board coordinates onto a 2D context, per docs/protocol.md Rendering.
 * The context's current transform maps board units to pixels.
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {StrokeOp} op
 */
export function drawStroke(ctx, op) {
  paintStroke(ctx, op, buildStroke(op));
}

/**
 * A stroke's points with those that would not show at this size left out: a point closer than
 * `tolerance` (board units) to the last one kept is dropped; the first and last always stay.
 * Drawn through the same rules, the path then moves by less than the tolerance, so with a
 * tolerance of a fraction of a pixel the picture stays the same while the rasteriser gets a
 * fraction of the segments. Returns `pts` itself when nothing can be dropped.
 * @param {Float64Array} pts flat [x0, y0, x1, y1, ...]
 * @param {number} tolerance board units
 * @returns {Float64Array}
 */
export function simplifyPoints(pts, tolerance) {
  const count = pts.length >> 1;
  if (count <= 2) return pts;
  const out = new Float64Array(pts.length);
  const limit = tolerance * tolerance;
  let lastX = pts[0];
  let lastY = pts[1];
  out[0] = lastX;
  out[1] = lastY;
  let n = 2;
  for (let i = 2; i < pts.length - 2; i += 2) {
    const dx = pts[i] - lastX;
    const dy = pts[i + 1] - lastY;
    if (dx * dx + dy * dy >= limit) {
      lastX = pts[i];
      lastY = pts[i + 1];
      out[n++] = lastX;
      out[n++] = lastY;
    }
  }
  out[n++] = pts[pts.length - 2];
  out[n++] = pts[pts.length - 1];
  return n === pts.length ? pts : out.slice(0, n);
}
