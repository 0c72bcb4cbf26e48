/**
 * Shared behaviour of the two-point shapes (line, rect, ellipse): a live shape others see change
 * while it is dragged (each change a `begin` that replaces the preview), one whole `stroke` on
 * release, an `abort` when the drag is cancelled (a touch that became a pinch).
 */

/**
 * @param {string} tool line | rect | ellipse
 */
export function shapeTool(tool) {
  /** @type {Map<number, string>} pointerId -> live shape id */
  const drags = new Map();
  return {
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    press(app, pointer) {
      const from = [pointer.x, pointer.y];
      drags.set(pointer.id, app.session.beginShape({ ...app.style(), tool }, from, from));
      app.requestFrame();
    },
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    move(app, pointer) {
      const id = drags.get(pointer.id);
      if (!id) return;
      app.session.moveShape(id, [pointer.x, pointer.y]);
      app.requestFrame();
    },
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    release(app, pointer) {
      const id = drags.get(pointer.id);
      if (!id) return;
      drags.delete(pointer.id);
      app.session.endShape(id, [pointer.x, pointer.y]);
      app.requestFrame();
    },
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    cancel(app, pointer) {
      const id = drags.get(pointer.id);
      if (!id) return;
      drags.delete(pointer.id);
      app.session.abortStroke(id);
      app.requestFrame();
    },
  };
}
