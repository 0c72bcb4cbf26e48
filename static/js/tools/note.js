/** Sticky notes (N): the text tool's behaviour, on coloured paper that grows with its text. */
import { makeTextTool } from "./text.js";

const tool = makeTextTool("note");
export const name = tool.name;
export const label = tool.label;
export const cursor = tool.cursor;
export const press = tool.press;
export const move = tool.move;
export const release = tool.release;
export const cancel = tool.cancel;
