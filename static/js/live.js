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
 * A two-point shape (line, rect, ellipse) as one `stroke` message.
 * @param {{tool: string, color: string, width: number}} style
 * @param {number[]} from board point [x, y]
 * @param {number[]} to board point [x, y]
 * @returns {object}
 */
export function shapeStroke(style, from, to) {
  const x0 = clampQuanta(quantise(from[0]));
  const y0 = clampQuanta(quantise(from[1]));
  const x1 = clampQuanta(quantise(to[0]));
  const y1 = clampQuanta(quantise(to[1]));
  return { type: "stroke", id: newId(), tool: style.tool, color: style.color, width: style.width, pts: [x0, y0, x1 - x0, y1 - y0] };
}

function clampQuanta(value) {
  const bound = LIMITS.maxCoord * LIMITS.coordScale;
  return Math.max(-bound, Math.min(bound, value));
}

function toPressure(value) {
  return Math.max(0, Math.min(LIMITS.pressureScale, Math.round(value * LIMITS.pressureScale)));
}
