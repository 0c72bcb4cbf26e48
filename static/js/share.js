/**
 * The share panel: the board's link and QR code as other devices can open them (the server
 * decides: public URL, LAN address, or the address used, `whiteboard/server/sharing.py`), a
 * warning with the fix when only this computer can open them, a link to the current view, and
 * the downloads (PNG, SVG, PDF, timelapse GIF).
 */

const $ = (id) => document.getElementById(id);

/**
 * Copy text with the Clipboard API when the page is a secure context, else by selecting it in
 * an input and `execCommand("copy")` (plain http on a LAN address has no navigator.clipboard).
 * @param {string} text
 * @param {HTMLInputElement} [input] an input showing the text, selected for a manual copy
 * @returns {Promise<boolean>}
 */
export async function copyText(text, input) {
  if (globalThis.isSecureContext && navigator.clipboard?.writeText) {
    try {
      await navigator.clipboard.writeText(text);
      return true;
    } catch {
      // fall back to selecting the text
    }
  }
  let field = input;
  let temporary = false;
  if (!field || field.value !== text) {
    field = document.createElement("input");
    field.value = text;
    field.readOnly = true;
    field.style.position = "fixed";
    field.style.opacity = "0";
    document.body.append(field);
    temporary = true;
  }
  field.focus();
  field.select();
  field.setSelectionRange(0, text.length);
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  if (temporary) field.remove();
  return copied;
}

/** The share panel's content; filled from `share.json` each time it opens. */
export class SharePanel {
  /**
   * @param {string} boardId
   * @param {function(): string} viewLink  the board's link with `#x,y,zoom` of the current view
   */
  constructor(boardId, viewLink) {
    this.base = `/b/${encodeURIComponent(boardId)}`;
    this.viewLink = viewLink;
    const downloads = [["export-png", "export.png", "png"], ["export-svg", "export.svg", "svg"],
      ["export-pdf", "export.pdf", "pdf"], ["timelapse", "timelapse.gif", "gif"]];
    for (const [id, path, suffix] of downloads) {
      $(id).href = `${this.base}/${path}`;
      $(id).download = `${boardId}${id === "timelapse" ? "-timelapse" : ""}.${suffix}`;
    }
    this.#copyButton("copy-link", () => $("share-url").value, $("share-url"), "Link copied.");
    this.#copyButton("copy-fix", () => $("share-fix").textContent, undefined, "Command copied.");
    $("copy-view").addEventListener("click", async () => {
      const copied = await copyText(this.viewLink());
      this.#note(copied ? "Link to this view copied." : "Could not copy; the link is in the address bar.");
    });
  }

  #copyButton(id, text, input, done) {
    $(id).addEventListener("click", async () => {
      const copied = await copyText(text(), input);
      this.#note(copied ? done : "Press Ctrl+C (or long-press) to copy the selected text.");
    });
  }

  #note(text) {
    $("copy-note").textContent = text;
  }

  /** @param {string} url */
  setUrl(url) {
    $("share-url").value = url;
  }

  /** The panel opened: ask the server for the links others can open, and their QR code. */
  async open() {
    this.#note("");
    $("qr").src = `${this.base}/qr.svg`;
    let info;
    try {
      const response = await fetch(`${this.base}/share.json`, { cache: "no-store" });
      if (!response.ok) return;
      info = await response.json();
    } catch {
      return; // offline: the panel keeps the link from the welcome
    }
    if (typeof info.url === "string") this.setUrl(info.url);
    $("share-local").hidden = !info.local_only;
    $("share-fix").textContent = typeof info.fix === "string" ? info.fix : "";
  }
}
