/**
 * How one stroke is drawn, exactly as docs/protocol.md "Rendering" says, so every client and the
 * server's export draw the same picture. Pure: no DOM beyond the 2D context and Path2D it is
 * handed, no app state. `drawStroke(ctx, op)` is the contract other code (and the export's
 * comparison test) relies on; the rest lets the canvas cache built paths per stroke.
 */
import { getStroke } from "../vendor/perfect-freehand/index.mjs";
import { absolutePoints, PRESSURE_SCALE } from "./protocol.js";

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
 * @typedef {object} BuiltStroke  a stroke turned into one path, reusable at any transform
 * @property {Path2D} path
 * @property {"stroke"|"fill"} paint  stroke the path with `width`, or fill it (nonzero)
 * @property {number} alpha
 */

/**
 * Build the path of a stroke in board coordinates.
 * @param {StrokeOp} op
 * @param {Float64Array} [abs] the stroke's absolute points, if already decoded
 * @returns {BuiltStroke}
 */
export function buildStroke(op, abs = absolutePoints(op.pts)) {
  const path = new Path2D();
  const count = abs.length >> 1;
  const alpha = op.tool === "highlighter" ? HIGHLIGHTER_ALPHA : 1;
  if (count === 0) return { path, paint: "fill", alpha };
  if (op.tool === "line" || op.tool === "rect" || op.tool === "ellipse") {
    const [x0, y0] = [abs[0], abs[1]];
    const [x1, y1] = count > 1 ? [abs[2], abs[3]] : [x0, y0];
    if (op.tool === "line") {
      path.moveTo(x0, y0);
      path.lineTo(x1, y1);
    } else if (op.tool === "rect") {
      path.rect(Math.min(x0, x1), Math.min(y0, y1), Math.abs(x1 - x0), Math.abs(y1 - y0));
    } else {
      const rx = Math.abs(x1 - x0) / 2;
      const ry = Math.abs(y1 - y0) / 2;
      path.ellipse((x0 + x1) / 2, (y0 + y1) / 2, rx, ry, 0, 0, 2 * Math.PI);
    }
    return { path, paint: "stroke", alpha };
  }
  if (op.tool === "pen" && op.p && op.p.length === count) {
    const input = new Array(count);
    for (let i = 0; i < count; i++) {
      input[i] = [abs[2 * i], abs[2 * i + 1], op.p[i] / PRESSURE_SCALE];
    }
    const outline = getStroke(input, freehandOptions(op.width));
    if (outline.length > 0) {
      path.moveTo(outline[0][0], outline[0][1]);
      for (let i = 1; i < outline.length; i++) path.lineTo(outline[i][0], outline[i][1]);
      path.closePath();
    }
    return { path, paint: "fill", alpha };
  }
  // pen without pressure, and the highlighter: a smoothed path through the points.
  if (count === 1) {
    path.arc(abs[0], abs[1], op.width / 2, 0, 2 * Math.PI);
    return { path, paint: "fill", alpha };
  }
  path.moveTo(abs[0], abs[1]);
  for (let i = 1; i < count - 1; i++) {
    const x = abs[2 * i];
    const y = abs[2 * i + 1];
    path.quadraticCurveTo(x, y, (x + abs[2 * i + 2]) / 2, (y + abs[2 * i + 3]) / 2);
  }
  path.lineTo(abs[2 * count - 2], abs[2 * count - 1]);
  return { path, paint: "stroke", alpha };
}

/**
 * Paint a built stroke with its style onto `ctx` (whose transform maps board units).
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {StrokeOp} op
 * @param {BuiltStroke} built
 */
export function paintStroke(ctx, op, built) {
  ctx.save();
  ctx.globalAlpha = built.alpha;
  if (built.paint === "fill") {
    ctx.fillStyle = op.color;
    ctx.fill(built.path, "nonzero");
  } else {
    ctx.strokeStyle = op.color;
    ctx.lineWidth = op.width;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.stroke(built.path);
  }
  ctx.restore();
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
 * Axis-aligned bounds of a stroke's ink in board units, `[minX, minY, maxX, maxY]`.
 * @param {StrokeOp} op
 * @param {Float64Array} [abs]
 * @returns {number[]}
 */
export function strokeBounds(op, abs = absolutePoints(op.pts)) {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i + 1 < abs.length; i += 2) {
    const x = abs[i];
    const y = abs[i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  const pad = op.width / 2 + 1;
  return [minX - pad, minY - pad, maxX + pad, maxY + pad];
}
