/** Pen: opaque freehand strokes; a pen's pressure changes the width (perfect-freehand). */
import { freehandTool } from "./freehand.js";

export const name = "pen";
export const label = "Pen (P)";
export const cursor = "crosshair";
export const { press, move, release, cancel } = freehandTool("pen", true);
