/**
 * Stroke points on the wire and on the board: delta-coded quanta -> absolute board units. No
 * dependencies, so the layer worker can import it without the msgpack codec.
 */
import { LIMITS } from "./limits.js";

const COORD_SCALE = LIMITS.coordScale;

/**
 * Delta-coded quanta `[x0, y0, dx1, dy1, ...]` -> absolute board units, flat `[x0, y0, x1, y1...]`.
 * @param {ArrayLike<number>} pts
 * @returns {Float64Array}
 */
export function absolutePoints(pts) {
  const out = new Float64Array(pts.length);
  let x = 0;
  let y = 0;
  for (let i = 0; i + 1 < pts.length; i += 2) {
    x += pts[i];
    y += pts[i + 1];
    out[i] = x / COORD_SCALE;
    out[i + 1] = y / COORD_SCALE;
  }
  return out;
}

/**
 * Axis-aligned bounds of a stroke's ink in board units, `[minX, minY, maxX, maxY]`, straight from
 * its delta-coded quanta, without decoding the points; half the width and a unit of margin around
 * the points (round caps and anti-aliasing stay inside).
 * @param {{pts: ArrayLike<number>, width: number}} op
 * @returns {number[]}
 */
export function strokeBoundsOfDeltas(op) {
  const b = pointBoundsOfDeltas(op.pts);
  const pad = op.width / 2 + 1;
  return [b[0] - pad, b[1] - pad, b[2] + pad, b[3] + pad];
}

/**
 * Axis-aligned bounds of delta-coded points in board units, `[minX, minY, maxX, maxY]`.
 * @param {ArrayLike<number>} pts  delta-coded quanta
 * @returns {number[]}
 */
export function pointBoundsOfDeltas(pts) {
  let x = 0;
  let y = 0;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i + 1 < pts.length; i += 2) {
    x += pts[i];
    y += pts[i + 1];
    if (x < minX) minX = x;
    if (x > maxX) maxX = x;
    if (y < minY) minY = y;
    if (y > maxY) maxY = y;
  }
  return [minX / COORD_SCALE, minY / COORD_SCALE, maxX / COORD_SCALE, maxY / COORD_SCALE];
}

/**
 * Write a stroke's absolute points into `out` from `offset` (as `absolutePoints`, no allocation).
 * @param {ArrayLike<number>} pts  delta-coded quanta
 * @param {Float64Array} out
 * @param {number} offset
 */
export function absolutePointsInto(pts, out, offset) {
  let x = 0;
  let y = 0;
  for (let i = 0; i + 1 < pts.length; i += 2) {
    x += pts[i];
    y += pts[i + 1];
    out[offset + i] = x / COORD_SCALE;
    out[offset + i + 1] = y / COORD_SCALE;
  }
}

/**
 * Decode `count` zigzag varints (protobuf's sint encoding; a snapshot's `pts` and `seqs`): one byte
 * for -64..63, so a freehand delta costs one byte. The values are whole numbers below 2**31.
 * @param {Uint8Array} bytes
 * @param {number} count
 * @returns {Int32Array}
 */
export function zigzagVarints(bytes, count) {
  const out = new Int32Array(count);
  let pos = 0;
  for (let i = 0; i < count; i++) {
    let byte = bytes[pos++];
    if (byte < 0x80) {
      // Most values (a freehand delta): one byte, decoded with integer operations only, which
      // halves the decoding of a 500,000-point snapshot (docs/performance.md).
      out[i] = (byte >>> 1) ^ -(byte & 1);
      continue;
    }
    let value = byte & 0x7f;
    let scale = 128;
    do {
      byte = bytes[pos++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
    } while (byte & 0x80);
    out[i] = value % 2 === 0 ? value / 2 : -(value + 1) / 2; // up to 2**32: no 32-bit operations
  }
  return out;
}
