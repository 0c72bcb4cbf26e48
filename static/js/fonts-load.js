/**
 * Load the two fonts of board text (static/fonts, docs/protocol.md Rendering) into a font set:
 * `document.fonts` on the page, `self.fonts` in the layer worker (a worker's OffscreenCanvas sees
 * only the fonts of its own scope). Served by us, never a CDN; the CSS `@font-face` rules in
 * static/css/fonts.css name the same files for the text editor on the page.
 */
import { FONT_FAMILY_NAMES } from "./text.js";

const FILES = ["Inter-Regular.woff2", "DejaVuSans.woff2"];

/**
 * @param {FontFaceSet} fontSet
 * @returns {Promise<boolean>} true when both fonts are ready to draw with
 */
export async function loadFonts(fontSet) {
  if (typeof FontFace !== "function" || !fontSet) return false;
  try {
    const faces = FILES.map((file, i) => new FontFace(
      FONT_FAMILY_NAMES[i], `url(${new URL(`../fonts/${file}`, import.meta.url)})`,
    ));
    await Promise.all(faces.map((face) => face.load()));
    for (const face of faces) fontSet.add(face);
    return true;
  } catch (err) {
    console.warn("whiteboard: cannot load the board fonts", err);
    return false;
  }
}
