/**
 * How text and sticky notes are laid out and drawn (docs/protocol.md, Rendering), the same rules
 * as the export (`whiteboard/export/text.py`): lines split on "\n" only (no wrapping), drawn
 * left-aligned in the shipped fonts, first the main font then the fallback for what it lacks;
 * characters neither font has are drawn as U+25A1 (a box) on both sides, so a browser's system
 * fonts never make the page differ from the export. Text is only ever drawn on a canvas: it is
 * never put into HTML.
 *
 * No DOM: works in the layer worker too. Widths come from a measuring function (a canvas 2D
 * context with the fonts loaded); `board.js` keeps an estimate until the page sets one.
 */
import { COVERAGE } from "./fonts.js";

/** Line pitch, in font sizes. */
export const LINE_HEIGHT = 1.25;
/** The first line's baseline below the element's top, in font sizes. */
export const BASELINE = 0.95;
/** A sticky note is at least this many font sizes wide and high. */
export const NOTE_SIDE = 10;
/** Space between a note's edge and its text, in font sizes. */
export const NOTE_PADDING = 1;
export const NOTE_TEXT_COLOR = "#1f2328";
/** The family names of the two shipped fonts, main first (whiteboard/export/fonts.py). */
export const FONT_FAMILY_NAMES = Object.freeze(["Whiteboard Sans", "Whiteboard Fallback"]);
/** The CSS font-family of element text: the two shipped fonts and nothing else. */
export const FONT_FAMILY = FONT_FAMILY_NAMES.map((name) => `"${name}"`).join(", ");
const MISSING = "\u25a1";

/**
 * A CSS font for `size` board units (sizes are set under the board transform).
 * @param {number} size
 * @returns {string}
 */
export function cssFont(size) {
  return `${size}px ${FONT_FAMILY}`;
}

/**
 * The lines of a text as drawn: split on "\n", characters no shipped font has replaced by a box.
 * @param {string} text
 * @returns {string[]}
 */
export function textLines(text) {
  return drawable(text).split("\n");
}

/**
 * Replace what neither shipped font can draw (COVERAGE: sorted [first, last] code point ranges).
 * @param {string} text
 * @returns {string}
 */
export function drawable(text) {
  let out = "";
  let changed = false;
  for (const ch of text) {
    const code = ch.codePointAt(0);
    if (code === 10 || covered(code)) out += ch;
    else {
      out += MISSING;
      changed = true;
    }
  }
  return changed ? out : text;
}

function covered(code) {
  let lo = 0;
  let hi = COVERAGE.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const range = COVERAGE[mid];
    if (code < range[0]) hi = mid - 1;
    else if (code > range[1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * @typedef {function(string, number): number} Measure  width of one line at a font size
 */

/**
 * A text element's box in its own coordinates: [x, y, x + widest line, y + lines * pitch].
 * @param {{x: number, y: number, size: number}} op
 * @param {string[]} lines
 * @param {Measure} measure
 * @returns {number[]}
 */
export function textBox(op, lines, measure) {
  let width = 0;
  for (const line of lines) width = Math.max(width, measure(line, op.size));
  return [op.x, op.y, op.x + width, op.y + lines.length * LINE_HEIGHT * op.size];
}

/**
 * A note's box in its own coordinates: at least NOTE_SIDE font sizes square, grown to hold its
 * text with NOTE_PADDING around it.
 * @param {{x: number, y: number, size: number}} op
 * @param {string[]} lines
 * @param {Measure} measure
 * @returns {number[]}
 */
export function noteBox(op, lines, measure) {
  const text = textBox(op, lines, measure);
  const pad = 2 * NOTE_PADDING * op.size;
  const side = NOTE_SIDE * op.size;
  const width = Math.max(side, text[2] - text[0] + pad);
  const height = Math.max(side, text[3] - text[1] + pad);
  return [op.x, op.y, op.x + width, op.y + height];
}

/**
 * Draw lines of text with their first line's top at (x, y), in `color`, on a context whose
 * transform already maps the element's own coordinates.
 * @param {CanvasRenderingContext2D|OffscreenCanvasRenderingContext2D} ctx
 * @param {string[]} lines
 * @param {number} x
 * @param {number} y
 * @param {number} size
 * @param {string} color
 */
export function fillLines(ctx, lines, x, y, size, color) {
  ctx.font = cssFont(size);
  ctx.fillStyle = color;
  ctx.textAlign = "left";
  ctx.textBaseline = "alphabetic";
  ctx.direction = "ltr";
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]) ctx.fillText(lines[i], x, y + (BASELINE + i * LINE_HEIGHT) * size);
  }
}
