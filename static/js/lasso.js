/**
 * The select tool's lasso (Alt+drag): a free-hand loop selecting every element it wholly
 * encloses, where a box would also take what lies in its corners. An element is enclosed when
 * its outline is: a freehand stroke or a line by its points, a rectangle or an ellipse by points
 * of its outline, text, notes and images by the corners of their box. Ink width is left out (as
 * the box selection leaves it in: a lasso is drawn around what one sees, loosely).
 */

/** Points of an ellipse's outline tested against the loop. */
const ELLIPSE_POINTS = 16;
/** At most this many points of a long stroke are tested (evenly spread; ends included). */
const MAX_STROKE_POINTS = 256;
const SVG_NS = "http://www.w3.org/2000/svg";

/**
 * Is board point (x, y) inside the closed loop `loop` (x0, y0, x1, y1, ...)? Even-odd rule.
 * @param {number[]} loop
 * @param {number} x
 * @param {number} y
 * @returns {boolean}
 */
export function insideLoop(loop, x, y) {
  let inside = false;
  const n = loop.length;
  for (let i = 0, j = n - 2; i < n; j = i, i += 2) {
    const xi = loop[i];
    const yi = loop[i + 1];
    const xj = loop[j];
    const yj = loop[j + 1];
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/**
 * The points of an element's outline on the board, [x0, y0, x1, y1, ...].
 * @param {import("./board.js").ElementRecord} rec
 * @returns {number[]|Float64Array}
 */
export function outline(rec) {
  if (rec.kind !== "stroke" || rec.op.tool === "rect") {
    const [x0, y0, x1, y1] = rec.kind === "stroke" ? corners(rec.placedAbs) : rec.bbox;
    return [x0, y0, x1, y0, x1, y1, x0, y1];
  }
  const abs = rec.placedAbs;
  if (rec.op.tool === "ellipse") {
    const [x0, y0, x1, y1] = corners(abs);
    const [cx, cy, rx, ry] = [(x0 + x1) / 2, (y0 + y1) / 2, (x1 - x0) / 2, (y1 - y0) / 2];
    const out = [];
    for (let i = 0; i < ELLIPSE_POINTS; i++) {
      const a = (2 * Math.PI * i) / ELLIPSE_POINTS;
      out.push(cx + rx * Math.cos(a), cy + ry * Math.sin(a));
    }
    return out;
  }
  const count = abs.length >> 1;
  if (count <= MAX_STROKE_POINTS) return abs;
  const out = [];
  for (let k = 0; k < MAX_STROKE_POINTS; k++) {
    const i = Math.round((k * (count - 1)) / (MAX_STROKE_POINTS - 1));
    out.push(abs[2 * i], abs[2 * i + 1]);
  }
  return out;
}

/** @param {Float64Array} abs two corners @returns {number[]} [minX, minY, maxX, maxY] */
function corners(abs) {
  return [Math.min(abs[0], abs[2]), Math.min(abs[1], abs[3]), Math.max(abs[0], abs[2]), Math.max(abs[1], abs[3])];
}

/**
 * The records wholly inside the loop.
 * @param {Iterable<import("./board.js").ElementRecord>} records  visible candidates
 * @param {number[]} loop  board points, x0, y0, x1, y1, ...
 * @returns {import("./board.js").ElementRecord[]}
 */
export function enclosed(records, loop) {
  if (loop.length < 6) return [];
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let i = 0; i < loop.length; i += 2) {
    minX = Math.min(minX, loop[i]);
    maxX = Math.max(maxX, loop[i]);
    minY = Math.min(minY, loop[i + 1]);
    maxY = Math.max(maxY, loop[i + 1]);
  }
  const out = [];
  for (const rec of records) {
    const b = rec.bbox;
    // Cheap first: what does not even overlap the loop's box is not in the loop.
    if (b[2] < minX || b[0] > maxX || b[3] < minY || b[1] > maxY) continue;
    const points = outline(rec);
    let inside = points.length > 0;
    for (let i = 0; inside && i < points.length; i += 2) inside = insideLoop(loop, points[i], points[i + 1]);
    if (inside) out.push(rec);
  }
  return out;
}

/** The loop being drawn, as a dashed path over the board (a DOM overlay, like the box). */
export class LassoPath {
  constructor() {
    this.svg = document.createElementNS(SVG_NS, "svg");
    this.svg.id = "select-lasso";
    this.svg.setAttribute("aria-hidden", "true");
    this.path = document.createElementNS(SVG_NS, "polygon");
    this.svg.append(this.path);
    this.svg.setAttribute("hidden", "");
    document.body.append(this.svg);
  }

  /**
   * @param {number[]|null} loop  board points, or null when no lasso is drawn
   * @param {function(number, number): number[]} toScreen  board -> canvas CSS px
   */
  render(loop, toScreen) {
    this.svg.toggleAttribute("hidden", !loop); // an SVG element has no `hidden` property
    if (!loop) return;
    const points = [];
    for (let i = 0; i < loop.length; i += 2) {
      const [sx, sy] = toScreen(loop[i], loop[i + 1]);
      points.push(`${sx.toFixed(1)},${sy.toFixed(1)}`);
    }
    this.path.setAttribute("points", points.join(" "));
  }
}
