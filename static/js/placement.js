/**
 * Placements: where an element's own coordinates land on the board, `m = [sx, sy, tx, ty]`
 * mapping (x, y) to (sx * x + tx, sy * y + ty), with positive scales (docs/protocol.md,
 * "Elements"). Mirrors `whiteboard/elements.py`: `compose` does the very same float
 * operations in the same order, so the page and the server hold bit-identical placements.
 * No dependencies: the layer worker imports it too.
 */

/** @type {ReadonlyArray<number>} */
export const IDENTITY = Object.freeze([1, 1, 0, 0]);

/**
 * `outer` applied after `inner`.
 * @param {ArrayLike<number>} outer
 * @param {ArrayLike<number>} inner
 * @returns {number[]}
 */
export function compose(outer, inner) {
  return [
    outer[0] * inner[0],
    outer[1] * inner[1],
    outer[0] * inner[2] + outer[2],
    outer[1] * inner[3] + outer[3],
  ];
}

/**
 * @param {ArrayLike<number>|null|undefined} m
 * @returns {boolean}
 */
export function isIdentity(m) {
  return !m || (m[0] === 1 && m[1] === 1 && m[2] === 0 && m[3] === 0);
}

/**
 * A box [minX, minY, maxX, maxY] placed by `m` (scales are positive: it stays a box).
 * @param {ArrayLike<number>} box
 * @param {ArrayLike<number>|null|undefined} m
 * @returns {number[]}
 */
export function placeBox(box, m) {
  if (isIdentity(m)) return [box[0], box[1], box[2], box[3]];
  return [m[0] * box[0] + m[2], m[1] * box[1] + m[3], m[0] * box[2] + m[2], m[1] * box[3] + m[3]];
}

/**
 * How a stroke's width scales under `m`: by the geometric mean of the two scales, so a uniform
 * resize scales the ink with the drawing (docs/protocol.md, Rendering).
 * @param {ArrayLike<number>|null|undefined} m
 * @returns {number}
 */
export function widthScale(m) {
  return isIdentity(m) ? 1 : Math.sqrt(m[0] * m[1]);
}

/**
 * Absolute points placed by `m` (a new array; `pts` itself for the identity).
 * @param {Float64Array} pts
 * @param {ArrayLike<number>|null|undefined} m
 * @returns {Float64Array}
 */
export function placePoints(pts, m) {
  if (isIdentity(m)) return pts;
  const out = new Float64Array(pts.length);
  for (let i = 0; i + 1 < pts.length; i += 2) {
    out[i] = m[0] * pts[i] + m[2];
    out[i + 1] = m[1] * pts[i + 1] + m[3];
  }
  return out;
}
