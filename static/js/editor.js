/**
 * The text editor of the text and note tools: a transparent `<textarea>` laid over the canvas
 * where the text is, so the browser handles typing, IME, selection and right-to-left input, while
 * what shows is the canvas drawing the draft (the same drawing every peer sees live and the
 * export makes). The textarea's own text is invisible (only its caret shows). Its value is only
 * ever read as text: nothing typed is put into the page as HTML.
 */
import { LIMITS } from "./limits.js";
import { newId } from "./protocol.js";
import { FONT_FAMILY, LINE_HEIGHT, NOTE_PADDING, NOTE_SIDE } from "./text.js";

/** Characters the server refuses in text (docs/protocol.md, Elements): removed as typed. */
const REFUSED = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069\ufffe\uffff]/g;

/**
 * Text as the server takes it: CRLF and CR become LF, tabs four spaces, refused characters go,
 * at most max_text_chars characters and max_text_lines lines.
 * @param {string} text
 * @returns {string}
 */
export function cleanText(text) {
  let clean = text.replace(/\r\n?/g, "\n").replace(/\t/g, "    ").replace(REFUSED, "");
  const lines = clean.split("\n");
  if (lines.length > LIMITS.maxTextLines) clean = lines.slice(0, LIMITS.maxTextLines).join("\n");
  const chars = [...clean];
  return chars.length > LIMITS.maxTextChars ? chars.slice(0, LIMITS.maxTextChars).join("") : clean;
}

/**
 * @typedef {object} Editing  what is being typed
 * @property {"text"|"note"} kind
 * @property {number} x  own coordinates of the element's top-left corner
 * @property {number} y
 * @property {number} size
 * @property {string} color
 * @property {number[]} m  placement
 * @property {string} text  initial text
 * @property {string|null} target  the element edited, or null for a new one
 */

/** One open editor at a time. */
export class TextEditor {
  /** @param {object} app  the ToolApp (session, surface, board, requestFrame) */
  constructor(app) {
    this.app = app;
    /** @type {(Editing & {id: string, area: HTMLTextAreaElement})|null} */
    this.open = null;
  }

  /**
   * Open the editor on a new or an existing text or note.
   * @param {Editing} editing
   */
  start(editing) {
    this.finish();
    const area = document.createElement("textarea");
    area.className = "text-editor";
    area.setAttribute("aria-label", editing.kind === "note" ? "Note text" : "Text");
    area.spellcheck = false;
    area.wrap = "off";
    area.value = editing.text;
    area.style.fontFamily = FONT_FAMILY;
    area.style.caretColor = editing.kind === "note" ? "#1f2328" : editing.color;
    this.open = { ...editing, id: newId(), area };
    area.addEventListener("input", () => this.#changed());
    area.addEventListener("blur", () => this.finish());
    area.addEventListener("keydown", (ev) => {
      if (ev.key === "Escape" || (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey))) {
        ev.preventDefault();
        this.finish();
      }
      ev.stopPropagation();
    });
    document.body.append(area);
    this.place();
    area.focus();
    area.setSelectionRange(area.value.length, area.value.length);
    this.#changed();
  }

  /** Follow the view (pan, zoom) and the text's size: called every frame while open. */
  place() {
    const open = this.open;
    if (!open) return;
    const { surface } = this.app;
    const [m0, m1, m2, m3] = open.m;
    const rect = surface.canvas.getBoundingClientRect();
    const [sx, sy] = surface.toScreen(m0 * open.x + m2, m1 * open.y + m3);
    const scale = surface.view.zoom;
    const fontPx = open.size * m1 * scale;
    const pad = open.kind === "note" ? NOTE_PADDING * open.size * scale : 0;
    const lines = open.area.value.split("\n");
    const style = open.area.style;
    style.left = `${rect.left + sx}px`;
    style.top = `${rect.top + sy}px`;
    style.fontSize = `${fontPx}px`;
    style.lineHeight = `${LINE_HEIGHT * fontPx}px`;
    style.padding = `${pad * m1}px ${pad * m0}px`;
    // A note's box is at least its square (as noteBox draws it); a text's fits its lines.
    const side = open.kind === "note" ? NOTE_SIDE * open.size * scale : 0;
    const textHeight = lines.length * LINE_HEIGHT * fontPx;
    style.height = `${Math.max(textHeight + 2, (side - 2 * pad) * m1)}px`;
    // The width fits the longest line: measured at no width (a textarea's scrollWidth is never
    // less than its width, so measured as it stands it could only grow), less the padding that
    // scrollWidth counts and a content-box width does not.
    style.width = "0px";
    const textWidth = open.area.scrollWidth - 2 * pad * m0;
    style.width = `${Math.max(fontPx, textWidth + 2, (side - 2 * pad) * m0)}px`;
  }

  /**
   * Close the editor: a new text with some text, or a changed one, is committed.
   * @returns {boolean} an editor was open
   */
  finish() {
    const open = this.open;
    if (!open) return false;
    this.open = null;
    const { session } = this.app;
    const text = cleanText(open.area.value);
    open.area.remove();
    if (open.target) {
      if (text === open.text) session.dropPreview(open.id);
      else if (text.trim() === "") {
        session.dropPreview(open.id);
        session.hideLocally([open.target]);
        session.erase([open.target]);
      } else session.commitElementOp({ type: "edit", id: open.id, target: open.target, text });
    } else if (text.trim() === "") {
      session.dropPreview(open.id);
    } else {
      const { kind, x, y, size, color } = open;
      session.commitElementOp({ type: kind, id: open.id, x, y, size, color, text });
    }
    this.app.requestFrame();
    return true;
  }

  #changed() {
    const open = this.open;
    const text = cleanText(open.area.value);
    if (text !== open.area.value) open.area.value = text;
    const { kind, x, y, size, color, m, target } = open;
    const draft = { id: open.id, kind, x, y, size, color, text };
    if (target) draft.target = target;
    if (m[0] !== 1 || m[1] !== 1 || m[2] !== 0 || m[3] !== 0) draft.m = m;
    this.app.session.draft(draft);
    this.place();
    this.app.requestFrame();
  }
}
