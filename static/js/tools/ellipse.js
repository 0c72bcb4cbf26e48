/** Ellipse: a two-point shape, previewed while dragging and sent whole on release. */
import { shapeTool } from "./shape.js";

export const name = "ellipse";
export const label = "Ellipse (O)";
export const cursor = "crosshair";
export const { press, move, release, cancel } = shapeTool("ellipse");
