/**
 * Everything that opens over the board and closes again: the panels of the top bar (people,
 * share, menu), the popovers of narrower layouts (shapes and element tools below 1280 px; colour
 * and width on phones), the help overlay and the clear confirmation. At most one is open at a time. A pointer-down on the board while one
 * is open only closes it (input.js asks `dismiss()`): it must not also draw on everyone's board.
 */

const $ = (id) => document.getElementById(id);

/** Toggle buttons and what they open. */
const TOGGLES = [
  ["people-btn", "people-panel"],
  ["share-btn", "share-panel"],
  ["menu-btn", "menu-panel"],
  ["shapes-btn", "shapes"],
  ["style-btn", "style"],
];
/** Popovers are shown with `data-open` (where there is room they are always-visible groups). */
const POPOVERS = new Set(["shapes", "style"]);

/** @param {string} id @returns {boolean} */
function isOpen(id) {
  return POPOVERS.has(id) ? $(id).hasAttribute("data-open") : !$(id).hidden;
}

/** @param {string} id @param {boolean} open */
function show(id, open) {
  if (POPOVERS.has(id)) $(id).toggleAttribute("data-open", open);
  else $(id).hidden = !open;
}

/** Opens and closes the page's panels, popovers and overlays. */
export class Panels {
  /** @param {function(string): void} onOpen  called with the id of what was just opened */
  constructor(onOpen) {
    this.onOpen = onOpen;
    for (const [buttonId, panelId] of TOGGLES) {
      $(buttonId).addEventListener("click", () => this.toggle(panelId));
    }
    $("help-close").addEventListener("click", () => this.closeAll());
  }

  /** @param {string} panelId  open it (closing anything else), or close it if it is open */
  toggle(panelId) {
    const open = !isOpen(panelId);
    this.closeAll();
    if (open) this.open(panelId);
  }

  /** @param {string} panelId  open it, closing anything else */
  open(panelId) {
    this.closeAll();
    show(panelId, true);
    const toggle = TOGGLES.find(([, p]) => p === panelId);
    if (toggle) $(toggle[0]).setAttribute("aria-expanded", "true");
    if (panelId === "help") $("help-close").focus();
    if (panelId === "confirm-clear") $("confirm-clear-no").focus();
    this.onOpen(panelId);
  }

  /** Close everything that is open. */
  closeAll() {
    for (const [buttonId, panelId] of TOGGLES) {
      show(panelId, false);
      $(buttonId).setAttribute("aria-expanded", "false");
    }
    $("help").hidden = true;
    $("confirm-clear").hidden = true;
  }

  /** @returns {boolean} something is open */
  get anyOpen() {
    return TOGGLES.some(([, panelId]) => isOpen(panelId)) || !$("help").hidden
      || !$("confirm-clear").hidden;
  }

  /**
   * A pointer went down on the board: if something is open, close it and tell the caller to
   * ignore that pointer.
   * @returns {boolean}
   */
  dismiss() {
    if (!this.anyOpen) return false;
    this.closeAll();
    return true;
  }
}
