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

/**
 * The share panel's content; filled from `share.json` each time it opens. An editor's panel shows
 * two links and QR codes, "can edit" (the board) and "can view" (its view-only link); a view-only
 * page's panel shows only the view link.
 */
export class SharePanel {
  /**
   * @param {{base: string, name: string, viewOnly: boolean}} page  the page's path (`/b/<id>` or
   *   `/v/<token>`), the name its downloads get (never the board id on a view-only page)
   * @param {function(): string} viewLink  the page's link with `#x,y,zoom` of the current view
   */
  constructor(page, viewLink) {
    this.base = page.base;
    this.viewOnly = page.viewOnly;
    this.viewLink = viewLink;
    const downloads = [["export-png", "export.png", "png"], ["export-svg", "export.svg", "svg"],
      ["export-pdf", "export.pdf", "pdf"], ["timelapse", "timelapse.gif", "gif"]];
    for (const [id, path, suffix] of downloads) {
      $(id).href = `${this.base}/${path}`;
      $(id).download = `${page.name}${id === "timelapse" ? "-timelapse" : ""}.${suffix}`;
    }
    $("share-edit").hidden = this.viewOnly;
    this.#copyButton("copy-link", () => $("share-url").value, $("share-url"), "Link copied.");
    this.#copyButton("copy-view-link", () => $("share-view-url").value, $("share-view-url"),
      "View-only link copied.");
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

  /** @param {string} url  the page's own link, from the welcome */
  setUrl(url) {
    if (this.viewOnly) this.#setViewUrl(url);
    else $("share-url").value = url;
  }

  /** @param {string|null} url */
  #setViewUrl(url) {
    const known = typeof url === "string" && url !== "";
    $("share-view-url").value = known ? url : "";
    $("share-view-missing").hidden = known;
    $("share-view-qr").hidden = !known;
    $("copy-view-link").disabled = !known;
    if (known) {
      const path = new URL(url, location.href).pathname;
      const src = `${path}/qr.svg`;
      if ($("share-view-qr").getAttribute("src") !== src) $("share-view-qr").src = src;
    }
  }

  /** The panel opened: ask the server for the links others can open, and their QR codes. */
  async open() {
    this.#note("");
    if (!this.viewOnly) $("qr").src = `${this.base}/qr.svg`;
    let info;
    try {
      const response = await fetch(`${this.base}/share.json`, { cache: "no-store" });
      if (!response.ok) return;
      info = await response.json();
    } catch {
      return; // offline: the panel keeps the link from the welcome
    }
    if (typeof info.url === "string") this.setUrl(info.url);
    this.#setViewUrl(info.view_url);
    $("share-local").hidden = !info.local_only;
    $("share-fix").textContent = typeof info.fix === "string" ? info.fix : "";
  }
}
