/**
 * Text (T) and, through `makeTextTool`, sticky notes (N): click to place a box and type; Enter
 * for a new line; click away, Escape or Ctrl+Enter to commit. Clicking an existing text or note
 * edits it. Others see the text as it is typed (a `draft`).
 */
import { topElementAt } from "../selection.js";

/** Font sizes (board units) for the four widths of the style panel: S, M, L, XL. */
export const TEXT_SIZES = { 2: 18, 4: 28, 8: 44, 16: 72 };
/** Paper of notes for the pen colour chosen (a dark pen gets yellow paper). */
const NOTE_PAPER = {
  "#1e1e1e": "#fff475", "#e53935": "#f8bbd0", "#fb8c00": "#ffe0b2", "#43a047": "#ccff90",
  "#1e88e5": "#cbf0f8", "#8e24aa": "#e1bee7",
};

/**
 * A tool placing and editing elements of `kind`.
 * @param {"text"|"note"} kind
 */
export function makeTextTool(kind) {
  return {
    name: kind,
    label: kind === "note" ? "Sticky note (N)" : "Text (T)",
    cursor: "text",
    press(app, pointer) {
      if (pointer.closedEditor) return; // this click only closed the editor (input.js)
      const hit = topElementAt(app, pointer.x, pointer.y, (rec) => rec.kind === kind);
      if (hit) {
        editElement(app, hit);
        return;
      }
      const style = app.style();
      const size = TEXT_SIZES[style.width] ?? 28;
      const color = kind === "note" ? NOTE_PAPER[style.color] ?? "#fff475" : style.color;
      // The click lands in the middle of the first line (a note: inside its top-left corner).
      const x = kind === "note" ? pointer.x - size : pointer.x;
      const y = kind === "note" ? pointer.y - size : pointer.y - 0.6 * size;
      app.editor.start({ kind, x, y, size, color, m: [1, 1, 0, 0], text: "", target: null });
    },
    move() {},
    release() {},
    cancel() {},
  };
}

/**
 * Open the editor on an existing text or note (the select tool's double click, too).
 * @param {object} app
 * @param {import("../board.js").ElementRecord} rec
 */
export function editElement(app, rec) {
  const { x, y, size, color } = rec.op;
  app.editor.start({ kind: rec.kind, x, y, size, color, m: [...rec.m], text: rec.text ?? "", target: rec.id });
}

export const { name, label, cursor, press, move, release, cancel } = makeTextTool("text");
