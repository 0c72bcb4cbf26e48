/**
 * Boxes and views, shared by the page and the layer renderer. A leaf module: the page's module
 * graph stays shallow (each level is a round trip before the page can open its socket).
 */

/**
 * The board rectangle a renderer's band of the view shows.
 * @param {{x: number, y: number, zoom: number, width: number, dpr: number, top: number,
 *          rows: number}} view
 * @returns {number[]}
 */
export function viewRect(view) {
  const s = view.zoom * view.dpr;
  return [view.x, view.y + view.top / s, view.x + view.width / view.zoom, view.y + (view.top + view.rows) / s];
}

/**
 * @param {object|null} a
 * @param {object|null} b
 * @returns {boolean} both are the same view
 */
export function sameView(a, b) {
  return !!a && !!b && a.x === b.x && a.y === b.y && a.zoom === b.zoom && a.width === b.width &&
    a.height === b.height && a.dpr === b.dpr && a.top === b.top && a.rows === b.rows;
}

/**
 * @param {number[]} a
 * @param {number[]} b
 * @returns {boolean} the boxes overlap
 */
export function intersects(a, b) {
  return a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];
}
