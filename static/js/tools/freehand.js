/**
 * Shared behaviour of the freehand tools (pen, highlighter): every pointer sample becomes a point
 * of a live stroke that others see while it grows, whatever the device (touch included: if a
 * second finger turns the gesture into a pinch, `cancel` aborts the stroke everywhere). Each tool module re-exports these handlers
 * with its own name (the WBO pattern: one module per tool, the same exports in each).
 *
 * @typedef {object} ToolPointer  one pointer sample, as main.js hands it to tools
 * @property {number} id  pointerId
 * @property {string} type  mouse | pen | touch
 * @property {number} x  board units
 * @property {number} y
 * @property {number} sx  CSS pixels within the canvas
 * @property {number} sy
 * @property {number|null} pressure  0..1 for pens, null otherwise
 *
 * @typedef {object} ToolApp  what tools may use
 * @property {import("../session.js").Session} session
 * @property {import("../canvas.js").Surface} surface
 * @property {import("../board.js").Board} board
 * @property {function(): {tool: string, color: string, width: number}} style
 * @property {Set<object>} previews  op-shaped objects drawn above everything (shape previews)
 * @property {function(): void} requestFrame
 */
/**
 * Build the handlers of a freehand tool.
 * @param {string} tool  pen | highlighter
 * @param {boolean} usesPressure
 */
export function freehandTool(tool, usesPressure) {
  /** @type {Map<number, string>} pointerId -> live stroke id */
  const strokes = new Map();
  const pressureOf = (pointer) => (usesPressure ? pointer.pressure : null);
  return {
    /** @param {ToolApp} app @param {ToolPointer} pointer */
    press(app, pointer) {
      const style = { ...app.style(), tool };
      strokes.set(pointer.id, app.session.beginStroke(style, pointer.x, pointer.y, pressureOf(pointer)));
    },
    /** @param {ToolApp} app @param {ToolPointer} pointer */
    move(app, pointer) {
      const id = strokes.get(pointer.id);
      if (id) strokes.set(pointer.id, app.session.addPoint(id, pointer.x, pointer.y, pressureOf(pointer)));
    },
    /** @param {ToolApp} app @param {ToolPointer} pointer */
    release(app, pointer) {
      const id = strokes.get(pointer.id);
      if (!id) return;
      app.session.addPoint(id, pointer.x, pointer.y, pressureOf(pointer));
      app.session.endStroke(strokes.get(pointer.id));
      strokes.delete(pointer.id);
    },
    /** @param {ToolApp} app @param {ToolPointer} pointer */
    cancel(app, pointer) {
      const id = strokes.get(pointer.id);
      if (id) app.session.abortStroke(id);
      strokes.delete(pointer.id);
    },
  };
}
