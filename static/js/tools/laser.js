/** Laser pointer: a fading trail everyone sees; it draws nothing on the board (laser.js). */

export const name = "laser";
export const label = "Laser pointer (K)";
export const cursor = "crosshair";

/** @type {Set<number>} pointers pressed with the laser */
const down = new Set();

/** @param {object} app @param {{id: number, x: number, y: number}} pointer */
export function press(app, pointer) {
  down.add(pointer.id);
  app.lasers.own(pointer.x, pointer.y, true);
  app.requestFrame();
}

/** @param {object} app @param {{id: number, x: number, y: number}} pointer */
export function move(app, pointer) {
  if (!down.has(pointer.id)) return;
  app.lasers.own(pointer.x, pointer.y, false);
  app.requestFrame();
}

/** @param {object} app @param {{id: number}} pointer */
export function release(app, pointer) {
  down.delete(pointer.id);
}

/** @param {object} app @param {{id: number}} pointer */
export function cancel(app, pointer) {
  down.delete(pointer.id);
}
