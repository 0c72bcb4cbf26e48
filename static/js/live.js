/**
 * This page's own live strokes as data: quantised, delta-coded points (as on the wire) and the
 * `begin` / `points` messages that stream them. Pure: the session decides when to send.
 */
import { LIMITS } from "./limits.js";
import { newId, quantise } from "./protocol.js";

/**
 * @typedef {object} LiveStroke  a stroke this page is drawing now
 * @property {string} id
 * @property {string} tool
 * @property {string} color
 * @property {number} width
 * @property {number[]} pts  delta-coded quanta, as on the wire
 * @property {number[]|null} p  pressure per point, or null (mouse, touch)
 * @property {number} version  bumped on every change (render caches key on it)
 * @property {number} lastX  last absolute point, quanta
 * @property {number} lastY
 * @property {boolean} begun  `begin` was sent on the current connection
 * @property {number} sentPoints  points already sent on the current connection
 * @property {boolean} [liveRefused]  the server refused its `begin`: it is sent whole at the end
 * @property {boolean} [shape]  a two-point shape: re-sent whole as `begin` whenever it moves
 * @property {boolean} [moved]  a shape changed since its last `begin`
 */

/**
 * @param {{tool: string, color: string, width: number}} style
 * @param {number} x  board units
 * @param {number} y
 * @param {number|null} pressure  0..1, or null when the device has none
 * @returns {LiveStroke}
 */
export function newLiveStroke(style, x, y, pressure) {
  const qx = clampQuanta(quantise(x));
  const qy = clampQuanta(quantise(y));
  return {
    id: newId(), tool: style.tool, color: style.color, width: style.width,
    pts: [qx, qy], p: pressure === null ? null : [toPressure(pressure)], version: 0,
    lastX: qx, lastY: qy, begun: false, sentPoints: 0,
  };
}

/**
 * @param {LiveStroke} live
 * @param {number} x  board units
 * @param {number} y
 * @returns {boolean} (x, y) quantises to the stroke's last point
 */
export function isLastPoint(live, x, y) {
  return clampQuanta(quantise(x)) === live.lastX && clampQuanta(quantise(y)) === live.lastY;
}

/**
 * Append (x, y) unless it quantises to the last point.
 * @param {LiveStroke} live
 * @param {number} x
 * @param {number} y
 * @param {number|null} pressure
 * @returns {boolean} a point was added
 */
export function appendPoint(live, x, y, pressure) {
  if (isLastPoint(live, x, y)) return false;
  const qx = clampQuanta(quantise(x));
  const qy = clampQuanta(quantise(y));
  live.pts.push(qx - live.lastX, qy - live.lastY);
  if (live.p) live.p.push(toPressure(pressure ?? 0.5));
  live.lastX = qx;
  live.lastY = qy;
  live.version += 1;
  return true;
}

/**
 * What to stream now: `begin` on the first call of a connection, then `points` with what is new.
 * @param {LiveStroke} live
 * @returns {object|null}
 */
export function liveUpdate(live) {
  if (live.liveRefused) return null;
  if (live.shape) {
    // A shape is its two points: each change is sent as a new `begin` that replaces the preview.
    if (live.begun && !live.moved) return null;
    live.begun = true;
    live.moved = false;
    return { type: "begin", id: live.id, tool: live.tool, color: live.color, width: live.width, pts: live.pts.slice() };
  }
  const points = live.pts.length >> 1;
  if (!live.begun) {
    const begin = { type: "begin", id: live.id, tool: live.tool, color: live.color, width: live.width, pts: live.pts.slice() };
    if (live.p) begin.p = live.p.slice();
    live.begun = true;
    live.sentPoints = points;
    return begin;
  }
  if (points <= live.sentPoints) return null;
  const more = { type: "points", id: live.id, pts: live.pts.slice(live.sentPoints * 2) };
  if (live.p) more.p = live.p.slice(live.sentPoints);
  live.sentPoints = points;
  return more;
}

/**
 * A two-point shape (line, rect, ellipse) being dragged: a live stroke others see change.
 * @param {{tool: string, color: string, width: number}} style
 * @param {number[]} from board point [x, y]
 * @param {number[]} to board point [x, y]
 * @returns {LiveStroke}
 */
export function newLiveShape(style, from, to) {
  const pts = shapePoints(from, to);
  return {
    id: newId(), tool: style.tool, color: style.color, width: style.width, pts, p: null, version: 0,
    lastX: pts[0] + pts[2], lastY: pts[1] + pts[3], begun: false, sentPoints: 0, shape: true, moved: false,
  };
}

/**
 * Move the dragged corner of a live shape.
 * @param {LiveStroke} live
 * @param {number[]} to board point [x, y]
 * @returns {boolean} the shape changed
 */
export function moveLiveShape(live, to) {
  const pts = shapePoints([live.pts[0] / LIMITS.coordScale, live.pts[1] / LIMITS.coordScale], to);
  if (pts[2] === live.pts[2] && pts[3] === live.pts[3]) return false;
  live.pts = pts;
  live.version += 1;
  live.moved = true;
  return true;
}

/**
 * The committing `stroke` message of a live stroke (a shape on release, or a freehand stroke).
 * @param {LiveStroke} live
 * @returns {object}
 */
export function wholeStroke(live) {
  const whole = { type: "stroke", id: live.id, tool: live.tool, color: live.color, width: live.width, pts: live.pts };
  if (live.p) whole.p = live.p;
  return whole;
}

/** Quantised two-point `pts` of a shape: the start absolute, the end as a delta. */
function shapePoints(from, to) {
  const x0 = clampQuanta(quantise(from[0]));
  const y0 = clampQuanta(quantise(from[1]));
  const x1 = clampQuanta(quantise(to[0]));
  const y1 = clampQuanta(quantise(to[1]));
  return [x0, y0, x1 - x0, y1 - y0];
}

function clampQuanta(value) {
  const bound = LIMITS.maxCoord * LIMITS.coordScale;
  return Math.max(-bound, Math.min(bound, value));
}

function toPressure(value) {
  return Math.max(0, Math.min(LIMITS.pressureScale, Math.round(value * LIMITS.pressureScale)));
}
