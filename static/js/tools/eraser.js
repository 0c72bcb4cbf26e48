/**
 * Eraser: every stroke the eraser touches where it is drawn (moved and resized ones too)
 * disappears at once (locally); on release one `erase` op carries all their ids. Text, notes and
 * images are left to the select tool's delete.
 */
import { strokeHit } from "../board.js";
import { widthScale } from "../placement.js";
import { absolutePoints } from "../protocol.js";

export const name = "eraser";
export const label = "Eraser (E)";
export const cursor = 'url("/static/eraser-cursor.svg") 10 10, cell';

/** Eraser radius in CSS pixels: constant on screen whatever the zoom. */
const RADIUS_PX = 8;

/** @type {Map<number, {ids: Set<string>, last: number[]}>} */
const gestures = new Map();

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function press(app, pointer) {
  gestures.set(pointer.id, { ids: new Set(), last: [pointer.x, pointer.y] });
  sweep(app, pointer);
}

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function move(app, pointer) {
  sweep(app, pointer);
}

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function release(app, pointer) {
  const gesture = gestures.get(pointer.id);
  if (!gesture) return;
  sweep(app, pointer);
  gestures.delete(pointer.id);
  if (gesture.ids.size > 0) app.session.erase([...gesture.ids]);
  app.requestFrame();
}

/** @param {import("./freehand.js").ToolApp} app @param {import("./freehand.js").ToolPointer} pointer */
export function cancel(app, pointer) {
  const gesture = gestures.get(pointer.id);
  if (!gesture) return;
  gestures.delete(pointer.id);
  app.session.unhideLocally([...gesture.ids]);
  app.requestFrame();
}

/** Hit-test along the segment from the last sample, so fast strokes of the eraser miss nothing. */
function sweep(app, pointer) {
  const gesture = gestures.get(pointer.id);
  if (!gesture) return;
  const r = RADIUS_PX / app.surface.view.zoom;
  const [x0, y0] = gesture.last;
  const steps = Math.max(1, Math.ceil(Math.hypot(pointer.x - x0, pointer.y - y0) / r));
  const box = [Math.min(x0, pointer.x) - r, Math.min(y0, pointer.y) - r, Math.max(x0, pointer.x) + r, Math.max(y0, pointer.y) + r];
  const candidates = [];
  for (const rec of app.board.order) {
    if (rec.kind === "stroke" && rec.visible && !gesture.ids.has(rec.id) && !app.session.localHidden.has(rec.id) && overlaps(rec.bbox, box)) {
      // Where it is drawn: moved or resized strokes (a transform) by their placement.
      const op = { tool: rec.op.tool, width: rec.op.width * widthScale(rec.m) };
      candidates.push({ id: rec.id, op, abs: rec.placedAbs, bbox: rec.bbox });
    }
  }
  for (const message of app.session.pending.values()) {
    if (message.type === "stroke" && !gesture.ids.has(message.id) && !app.board.strokes.has(message.id)) {
      candidates.push({ id: message.id, op: message, abs: absolutePoints(message.pts), bbox: null });
    }
  }
  const hits = [];
  for (const c of candidates) {
    for (let i = 0; i <= steps; i++) {
      const x = x0 + ((pointer.x - x0) * i) / steps;
      const y = y0 + ((pointer.y - y0) * i) / steps;
      if (strokeHit(c.op, c.abs, x, y, r)) {
        hits.push(c);
        break;
      }
    }
  }
  gesture.last = [pointer.x, pointer.y];
  if (hits.length === 0) return;
  const ids = hits.map((c) => c.id);
  for (const id of ids) gesture.ids.add(id);
  app.session.hideLocally(ids);
  app.surface.invalidateBoxes(hits.filter((c) => c.bbox).map((c) => c.bbox));
  app.requestFrame();
}

function overlaps(a, b) {
  return a[0] <= b[2] && a[2] >= b[0] && a[1] <= b[3] && a[3] >= b[1];
}
