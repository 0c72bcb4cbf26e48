/**
 * Select (V): click an element to select it (Shift adds), drag a box over empty board to select
 * what lies inside (Alt+drag: a free-hand lasso, lasso.js), drag the selection to move it, drag the corner handle to resize it (aspect
 * kept; Shift stretches), double-click (or tap twice) a text or note to edit it, unless the
 * second press becomes a drag (a tap to select and a quick drag moves it). Others see the move
 * while it is dragged (`moving`); releasing commits it as one `transform`, undone with Ctrl+Z.
 */
import { enclosed } from "../lasso.js";
import { newId } from "../protocol.js";
import { topElementAt } from "../selection.js";
import { editElement } from "./text.js";

export const name = "select";
export const label = "Select (V)";
export const cursor = "default";

/** Smallest scale a resize may reach in one gesture (the protocol's is 1/1000). */
const MIN_SCALE = 0.02;
const DOUBLE_CLICK_MS = 400;
/** A lasso takes a point each time the pointer has moved this far, CSS pixels. */
const LASSO_STEP_PX = 3;
/**
 * A move or resize starts only once the pointer has gone this far from where it was pressed, CSS
 * pixels: a finger's tap wobbles a few pixels, and without this every tap on a selection
 * committed a 1-px `transform` (an op in the log and a step in the undo stack nobody asked for).
 * The same slop as the platforms' own (Android's touch slop is 8 dp).
 */
const DRAG_SLOP_PX = { touch: 8, pen: 4, mouse: 3 };

/** @type {Map<number, object>} pointerId -> gesture */
const gestures = new Map();
let lastClick = { id: "", at: 0 };

/** @param {object} app @param {object} pointer */
export function press(app, pointer) {
  const selection = app.selection;
  if (pointer.alt) {
    if (!pointer.shift) selection.clear();
    selection.lasso = [pointer.x, pointer.y];
    gestures.set(pointer.id, { mode: "lasso", keep: pointer.shift ? selection.list() : [] });
    app.requestFrame();
    return;
  }
  if (selection.onHandle(pointer.sx, pointer.sy)) {
    const box = selection.bounds();
    gestures.set(pointer.id, { mode: "resize", box, opId: newId(), ids: selection.list(), m: null, press: pressedAt(pointer) });
    return;
  }
  const hit = topElementAt(app, pointer.x, pointer.y);
  /** A second click (tap) on a text or note edits it, if it does not become a drag. */
  let edit = null;
  if (hit) {
    const now = pointer.t ?? performance.now();
    if ((hit.kind === "text" || hit.kind === "note") && lastClick.id === hit.id && now - lastClick.at < DOUBLE_CLICK_MS) {
      lastClick = { id: "", at: 0 };
      edit = hit;
    } else {
      lastClick = { id: hit.id, at: now };
    }
    if (pointer.shift) selection.set([...selection.list(), hit.id]);
    else if (!selection.ids.has(hit.id)) selection.set([hit.id]);
  } else {
    if (!selection.contains(pointer.x, pointer.y)) {
      if (!pointer.shift) selection.clear();
      selection.band = [pointer.x, pointer.y, pointer.x, pointer.y];
      gestures.set(pointer.id, { mode: "band", keep: pointer.shift ? selection.list() : [] });
      app.requestFrame();
      return;
    }
  }
  gestures.set(pointer.id, { mode: "move", from: [pointer.x, pointer.y], opId: newId(), ids: selection.list(), m: null, edit, press: pressedAt(pointer) });
}

/** @param {object} app @param {object} pointer */
export function move(app, pointer) {
  const gesture = gestures.get(pointer.id);
  if (!gesture) return;
  if (gesture.mode === "lasso") {
    const lasso = app.selection.lasso;
    const step = LASSO_STEP_PX / app.surface.view.zoom;
    const n = lasso.length;
    if (Math.hypot(pointer.x - lasso[n - 2], pointer.y - lasso[n - 1]) >= step) {
      lasso.push(pointer.x, pointer.y);
      app.requestFrame();
    }
    return;
  }
  if (gesture.mode === "band") {
    const band = app.selection.band;
    band[2] = pointer.x;
    band[3] = pointer.y;
    app.requestFrame();
    return;
  }
  if (gesture.ids.length === 0) return;
  if (gesture.press) {
    const { sx, sy, slop } = gesture.press;
    if (Math.hypot(pointer.sx - sx, pointer.sy - sy) < slop) return;
    gesture.press = null; // past the slop: from here on the drag follows the pointer exactly
    lastClick = { id: "", at: 0 }; // a drag is no click: a quick tap after it is a first click
  }
  if (gesture.mode === "move") {
    gesture.m = [1, 1, pointer.x - gesture.from[0], pointer.y - gesture.from[1]];
  } else {
    const [x0, y0, x1, y1] = gesture.box;
    let sx = Math.max(MIN_SCALE, (pointer.x - x0) / Math.max(x1 - x0, 1e-6));
    let sy = Math.max(MIN_SCALE, (pointer.y - y0) / Math.max(y1 - y0, 1e-6));
    if (!pointer.shift) sx = sy = Math.max(sx, sy);
    gesture.m = [sx, sy, x0 - sx * x0, y0 - sy * y0];
  }
  app.session.moving(gesture.opId, gesture.ids, gesture.m);
  app.requestFrame();
}

/** @param {object} app @param {object} pointer */
export function release(app, pointer) {
  const gesture = gestures.get(pointer.id);
  if (!gesture) return;
  move(app, pointer);
  gestures.delete(pointer.id);
  if (gesture.mode === "lasso") {
    const loop = app.selection.lasso;
    app.selection.lasso = null;
    const candidates = app.board.order.filter((rec) => rec.visible && !app.isHidden(rec.id));
    app.selection.set([...gesture.keep, ...enclosed(candidates, loop).map((rec) => rec.id)]);
    return;
  }
  if (gesture.mode === "band") {
    const band = app.selection.band;
    app.selection.band = null;
    const box = [Math.min(band[0], band[2]), Math.min(band[1], band[3]), Math.max(band[0], band[2]), Math.max(band[1], band[3])];
    const inside = app.board.order.filter((rec) => rec.visible && !app.isHidden(rec.id) && within(rec.bbox, box));
    app.selection.set([...gesture.keep, ...inside.map((rec) => rec.id)]);
    return;
  }
  const m = gesture.m;
  if (m && (m[0] !== 1 || m[1] !== 1 || m[2] !== 0 || m[3] !== 0)) {
    app.session.commitElementOp({ type: "transform", id: gesture.opId, ids: gesture.ids, m });
  } else {
    app.session.dropPreview(gesture.opId);
    if (gesture.edit) {
      app.selection.clear();
      editElement(app, gesture.edit);
    }
  }
  app.requestFrame();
}

/** @param {object} app @param {object} pointer */
export function cancel(app, pointer) {
  const gesture = gestures.get(pointer.id);
  gestures.delete(pointer.id);
  if (gesture?.opId) app.session.dropPreview(gesture.opId);
  app.selection.band = null;
  app.selection.lasso = null;
  app.requestFrame();
}

/** @returns {number[]|null} the move or resize being dragged (for the selection's overlay) */
export function dragging() {
  for (const gesture of gestures.values()) if (gesture.m) return gesture.m;
  return null;
}

/** Where a move or resize was pressed, and how far the pointer may wobble before it drags. */
function pressedAt(pointer) {
  return { sx: pointer.sx, sy: pointer.sy, slop: DRAG_SLOP_PX[pointer.type] ?? DRAG_SLOP_PX.mouse };
}

function within(inner, outer) {
  return inner[0] >= outer[0] && inner[1] >= outer[1] && inner[2] <= outer[2] && inner[3] <= outer[3];
}
