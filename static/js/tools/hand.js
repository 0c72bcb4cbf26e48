/** Hand: drag to pan the view (space+drag and the middle button do the same with any tool). */

export const name = "hand";
export const label = "Pan (Space)";
export const cursor = "grab";

/** @type {Map<number, number[]>} pointerId -> last screen position */
const drags = new Map();

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function press(app, pointer) {
  drags.set(pointer.id, [pointer.sx, pointer.sy]);
}

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function move(app, pointer) {
  const last = drags.get(pointer.id);
  if (!last) return;
  app.surface.panBy(pointer.sx - last[0], pointer.sy - last[1]);
  drags.set(pointer.id, [pointer.sx, pointer.sy]);
  app.requestFrame();
}

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function release(app, pointer) {
  drags.delete(pointer.id);
}

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function cancel(app, pointer) {
  drags.delete(pointer.id);
}
