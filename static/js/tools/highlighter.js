/** Highlighter: translucent freehand strokes (opacity 0.35, pressure ignored). */
import { freehandTool } from "./freehand.js";

export const name = "highlighter";
export const label = "Highlighter (H)";
export const cursor = "crosshair";
export const { press, move, release, cancel } = freehandTool("highlighter", false);
