/**
 * Lasso select: the select tool's Alt+drag for screens without an Alt key (phones and tablets
 * reach it in the shapes popover). A drag on the board draws a free-hand loop selecting what it
 * wholly encloses; a drag that starts on the selection (or its resize handle) moves (resizes) it,
 * so what was lassoed is moved without changing tools; a tap on an element selects it.
 */
import { topElementAt } from "../selection.js";
import * as select from "./select.js";

export const name = "lasso";
export const label = "Lasso select";
export const cursor = "crosshair";

/** A press that moves less than this before release is a tap, CSS pixels (the select's slop). */
const TAP_SLOP_PX = 8;

/** @type {Map<number, {sx: number, sy: number}>} pointerId -> where a loop was started */
const loops = new Map();

/** @param {object} app @param {object} pointer */
export function press(app, pointer) {
  const selection = app.selection;
  if (selection.onHandle(pointer.sx, pointer.sy) || selection.contains(pointer.x, pointer.y)) {
    select.press(app, pointer);
    return;
  }
  loops.set(pointer.id, { sx: pointer.sx, sy: pointer.sy });
  select.press(app, { ...pointer, alt: true });
}

export const move = select.move;

/** @param {object} app @param {object} pointer */
export function release(app, pointer) {
  const loop = loops.get(pointer.id);
  loops.delete(pointer.id);
  select.release(app, pointer);
  if (loop && Math.hypot(pointer.sx - loop.sx, pointer.sy - loop.sy) < TAP_SLOP_PX) {
    const hit = topElementAt(app, pointer.x, pointer.y);
    if (hit) app.selection.set([hit.id]);
  }
}

/** @param {object} app @param {object} pointer */
export function cancel(app, pointer) {
  loops.delete(pointer.id);
  select.cancel(app, pointer);
}
