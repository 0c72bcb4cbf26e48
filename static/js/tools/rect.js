/** Rectangle: a two-point shape, previewed while dragging and sent whole on release. */
import { shapeTool } from "./shape.js";

export const name = "rect";
export const label = "Rectangle (R)";
export const cursor = "crosshair";
export const { press, move, release, cancel } = shapeTool("rect");
