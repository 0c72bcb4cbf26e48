/**
 * Shared behaviour of the two-point shapes (line, rect, ellipse): a local preview while dragging,
 * one whole `stroke` message on release.
 */

/**
 * @param {string} tool line | rect | ellipse
 */
export function shapeTool(tool) {
  /** @type {Map<number, {from: number[], preview: object}>} */
  const drags = new Map();
  const pts = (from, to) => {
    const q = (v) => Math.round(v * 4);
    return [q(from[0]), q(from[1]), q(to[0]) - q(from[0]), q(to[1]) - q(from[1])];
  };
  return {
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    press(app, pointer) {
      const from = [pointer.x, pointer.y];
      const preview = { ...app.style(), tool, pts: pts(from, from), version: 0 };
      drags.set(pointer.id, { from, preview });
      app.previews.add(preview);
      app.requestFrame();
    },
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    move(app, pointer) {
      const drag = drags.get(pointer.id);
      if (!drag) return;
      drag.preview.pts = pts(drag.from, [pointer.x, pointer.y]);
      drag.preview.version += 1;
      app.requestFrame();
    },
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    release(app, pointer) {
      const drag = drags.get(pointer.id);
      if (!drag) return;
      drags.delete(pointer.id);
      app.previews.delete(drag.preview);
      const { color, width } = drag.preview;
      app.session.commitShape({ tool, color, width }, drag.from, [pointer.x, pointer.y]);
      app.requestFrame();
    },
    /** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
    cancel(app, pointer) {
      const drag = drags.get(pointer.id);
      if (!drag) return;
      drags.delete(pointer.id);
      app.previews.delete(drag.preview);
      app.requestFrame();
    },
  };
}
