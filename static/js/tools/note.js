/** Sticky notes (N): the text tool's behaviour, on coloured paper that grows with its text. */
import { makeTextTool } from "./text.js";

export const { name, label, cursor, press, move, release, cancel } = makeTextTool("note");
