/** Line: a two-point shape, previewed while dragging and sent whole on release. */
import { shapeTool } from "./shape.js";

export const name = "line";
export const label = "Line (L)";
export const cursor = "crosshair";
export const { press, move, release, cancel } = shapeTool("line");
