/**
 * Toolbar, panels, status, zoom indicator and peers' cursors. Every received string goes into
 * the page through textContent or value, never innerHTML.
 */
import { cleanName } from "./identity.js";
import { Panels } from "./panels.js";
import { groupByAuthor } from "./peers.js";
import { SharePanel } from "./share.js";

/** Pen colours of the palette (the last swatch is a custom colour picker). */
export const PALETTE = ["#1e1e1e", "#e53935", "#fb8c00", "#43a047", "#1e88e5", "#8e24aa"];
/** Stroke widths offered, in board units; the highlighter uses four times as much. */
export const WIDTHS = [2, 4, 8, 16];
const STATUS_TEXT = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline",
  outdated: "Reload needed",
};
const OUTDATED_TEXT = "This board's server was updated. Reload the page to keep drawing.";
const SVG_NS = "http://www.w3.org/2000/svg";

const $ = (id) => document.getElementById(id);

/** The page's controls. Callbacks go to main.js; state comes back through the set* methods. */
export class UI {
  /**
   * @param {object} actions  tool(name), color(hex), width(n), undo(), redo(), clear(),
   *   zoomBy(f), zoomReset(), zoomFit(), rename(name, color), viewLink(): string, retry(),
   *   followMe(), bringHere()
   * @param {{page: {base: string, name: string, viewOnly: boolean}}} options
   */
  constructor(actions, options) {
    this.actions = actions;
    this.page = options.page;
    document.body.classList.toggle("view-only", this.page.viewOnly);
    if (this.page.viewOnly) {
      // Not merely hidden: no drawing or element tool (text, notes, images, select) can be
      // reached from a view-only page, by keyboard or assistive technology either.
      $("toolbar").inert = true;
      for (const control of document.querySelectorAll("#toolbar button, #toolbar input, #image-file")) {
        control.disabled = true;
      }
    }
    this.cursorEls = new Map();
    this.toastTimer = 0;
    this.panels = new Panels((id) => {
      if (id === "share-panel") this.share.open();
      if (id === "people-panel" && this.peersDirty) this.#drawPeers();
    });
    this.#buildPalette();
    this.#buildWidths();
    this.#wire();
  }

  #buildPalette() {
    const palette = $("palette");
    const custom = palette.querySelector(".custom");
    for (const color of PALETTE) {
      const button = document.createElement("button");
      button.className = "swatch";
      button.dataset.color = color;
      button.title = color;
      button.setAttribute("role", "radio");
      button.setAttribute("aria-label", `Colour ${color}`);
      button.style.setProperty("--swatch", color);
      button.addEventListener("click", () => {
        this.actions.color(color);
        this.panels.closeAll();
      });
      palette.insertBefore(button, custom);
    }
    $("custom-color").addEventListener("input", (e) => this.actions.color(e.target.value));
  }

  #buildWidths() {
    const widths = $("widths");
    for (const width of WIDTHS) {
      const button = document.createElement("button");
      button.dataset.width = String(width);
      button.title = `Width ${width}`;
      button.setAttribute("role", "radio");
      button.setAttribute("aria-label", `Width ${width}`);
      const dot = document.createElement("span");
      dot.className = "width-dot";
      const size = Math.min(18, 3 + width);
      dot.style.width = `${size}px`;
      dot.style.height = `${size}px`;
      button.append(dot);
      button.addEventListener("click", () => {
        this.actions.width(width);
        this.panels.closeAll();
      });
      widths.append(button);
    }
  }

  #wire() {
    for (const button of document.querySelectorAll("#toolbar .tool")) {
      button.setAttribute("role", "radio");
      button.addEventListener("click", () => {
        this.actions.tool(button.dataset.tool);
        this.panels.closeAll();
      });
    }
    for (const button of document.querySelectorAll("[data-action=image]")) {
      button.addEventListener("click", () => this.actions.pickImage());
    }
    for (const button of document.querySelectorAll("[data-action=undo]")) {
      button.addEventListener("click", () => this.actions.undo());
    }
    for (const button of document.querySelectorAll("[data-action=redo]")) {
      button.addEventListener("click", () => this.actions.redo());
    }
    $("clear").addEventListener("click", () => this.panels.toggle("confirm-clear"));
    $("confirm-clear-no").addEventListener("click", () => this.panels.closeAll());
    $("confirm-clear-yes").addEventListener("click", () => {
      this.panels.closeAll();
      this.actions.clear();
    });
    $("status").addEventListener("click", () => this.actions.retry());
    $("zoom-in").addEventListener("click", () => this.actions.zoomBy(1.25));
    $("zoom-out").addEventListener("click", () => this.actions.zoomBy(0.8));
    $("zoom-level").addEventListener("click", () => this.actions.zoomReset());
    $("zoom-fit").addEventListener("click", () => this.actions.zoomFit());
    const menu = {
      "zoom-in": () => this.actions.zoomBy(1.25),
      "zoom-out": () => this.actions.zoomBy(0.8),
      "zoom-fit": () => this.actions.zoomFit(),
      "zoom-reset": () => this.actions.zoomReset(),
      clear: () => this.panels.open("confirm-clear"),
      help: () => this.panels.open("help"),
      "follow-me": () => this.actions.followMe(),
      "bring-here": () => this.actions.bringHere(),
      laser: () => this.actions.tool("laser"),
    };
    for (const button of document.querySelectorAll("[data-menu]")) {
      button.addEventListener("click", () => {
        this.panels.closeAll();
        menu[button.dataset.menu]();
      });
    }

    this.share = new SharePanel(this.page, this.actions.viewLink);

    const list = $("people-list");
    list.addEventListener("scroll", () => {
      // Near the end of what we know of a large room: ask for the next page.
      if (list.scrollTop + list.clientHeight >= list.scrollHeight - 200) this.actions.morePeers?.();
    });

    const nameInput = $("name-input");
    const colorInput = $("me-color");
    const commitName = () => {
      const name = cleanName(nameInput.value);
      if (!name) {
        nameInput.value = this.myName || "";
        return;
      }
      nameInput.value = name;
      this.actions.rename(name, colorInput.value.toLowerCase());
    };
    nameInput.addEventListener("change", commitName);
    nameInput.addEventListener("keydown", (e) => {
      if (e.key === "Enter") nameInput.blur();
    });
    colorInput.addEventListener("change", commitName);
  }

  /** Close the panels, popovers, help and the clear confirmation. */
  closePanels() {
    this.panels.closeAll();
  }

  /** Open the help overlay (or close it when it is open). */
  toggleHelp() {
    this.panels.toggle("help");
  }

  /** @param {string} tool */
  setTool(tool) {
    for (const button of document.querySelectorAll("#toolbar .tool")) {
      button.setAttribute("aria-checked", String(button.dataset.tool === tool));
    }
    // Below 1280 px the shapes button shows the shape or element tool last chosen (a line first).
    const shape = document.querySelector(`#shapes .tool[data-tool="${tool}"]`);
    const shapesBtn = $("shapes-btn");
    if (shape || !shapesBtn.firstElementChild) {
      const icon = (shape || document.querySelector("#shapes .tool")).querySelector("svg").cloneNode(true);
      shapesBtn.replaceChildren(icon);
    }
    shapesBtn.setAttribute("aria-checked", String(Boolean(shape)));
  }

  /** @param {string} color */
  setColor(color) {
    let matched = false;
    for (const swatch of document.querySelectorAll("#palette .swatch[data-color]")) {
      const on = swatch.dataset.color === color;
      matched ||= on;
      swatch.setAttribute("aria-checked", String(on));
    }
    const custom = document.querySelector("#palette .custom");
    custom.setAttribute("aria-checked", String(!matched));
    if (!matched) $("custom-color").value = color;
    for (const dot of document.querySelectorAll(".width-dot, .style-dot")) dot.style.background = color;
  }

  /** @param {number} width */
  setWidth(width) {
    for (const button of document.querySelectorAll("#widths button")) {
      button.setAttribute("aria-checked", String(Number(button.dataset.width) === width));
    }
    const dot = document.querySelector(".style-dot");
    dot.style.width = dot.style.height = `${Math.min(24, 8 + width)}px`;
  }

  /**
   * Enable undo/redo only when there is something of ours to undo or redo.
   * @param {boolean} canUndo
   * @param {boolean} canRedo
   */
  setHistory(canUndo, canRedo) {
    for (const button of document.querySelectorAll("[data-action=undo]")) button.disabled = !canUndo;
    for (const button of document.querySelectorAll("[data-action=redo]")) button.disabled = !canRedo;
  }

  /** @param {string} status connecting | connected | reconnecting | offline */
  setStatus(status) {
    const el = $("status");
    el.dataset.state = status;
    el.textContent = STATUS_TEXT[status] || status;
    el.title = status === "connected" ? "" : "Your drawing is kept and sent when the connection is back. Click to retry now.";
    if (status === "outdated") this.showBanner(OUTDATED_TEXT, "Reload", () => location.reload());
  }

  /**
   * A message that stays until acted on (unlike a toast), with one button, or two.
   * @param {string} text
   * @param {string} label
   * @param {function(): void} action
   * @param {{label: string, action: function(): void}} [other]  a second, plain button
   */
  showBanner(text, label, action, other) {
    $("banner-text").textContent = text;
    const button = $("banner-action");
    button.textContent = label;
    button.onclick = action;
    const second = $("banner-other");
    second.hidden = !other;
    second.textContent = other?.label || "";
    second.onclick = other?.action || null;
    $("banner").hidden = false;
  }

  /** Take the banner away. */
  hideBanner() {
    $("banner").hidden = true;
  }

  /** @param {number} zoom */
  setZoom(zoom) {
    const text = `${Math.round(zoom * 100)}%`;
    $("zoom-level").textContent = text;
    for (const el of document.querySelectorAll(".zoom-now")) el.textContent = text;
  }

  /** @param {string} url  the board's link, as the server gave it in its welcome */
  setShareUrl(url) {
    this.share.setUrl(url);
  }

  /**
   * @param {{name: string, color: string}} me
   */
  setMe(me) {
    this.myName = me.name;
    if (document.activeElement !== $("name-input")) $("name-input").value = me.name;
    $("me-color").value = me.color;
  }

  /**
   * The participant count and list: connections of one browser (one author) are one person
   * with a tab count. The list is drawn only while its panel is open (a talk has 1,000 people);
   * scrolling to its end asks for more when the server listed only some (`actions.morePeers`).
   * @param {{peers: Map<number, {peer: number, name: string, color: string, author?: string}>,
   *   people: number, count: number, nextPage: number|null}} presence (ourselves included)
   * @param {number|null} myPeer
   */
  setPeers(presence, myPeer) {
    this.presence = presence;
    this.myPeer = myPeer;
    const people = Math.max(1, presence.people);
    $("people-count").textContent = String(people);
    $("people-btn").title = presence.count > people
      ? `${people} people (${presence.count} tabs or devices)` : `${people} ${people === 1 ? "person" : "people"}`;
    if ($("people-panel").hidden) {
      this.peersDirty = true;
      return;
    }
    this.#drawPeers();
  }

  #drawPeers() {
    this.peersDirty = false;
    const presence = this.presence;
    if (!presence) return;
    const list = $("people-list");
    const rows = [];
    for (const person of groupByAuthor(presence.peers, this.myPeer)) {
      const li = document.createElement("li");
      const dot = document.createElement("span");
      dot.className = "dot";
      dot.style.background = safeColor(person.color);
      const name = document.createElement("span");
      name.className = "name";
      name.textContent = person.name;
      li.append(dot, name);
      if (person.me) {
        const you = document.createElement("span");
        you.className = "you";
        you.textContent = "(you)";
        li.append(you);
      }
      if (person.tabs > 1) {
        const tabs = document.createElement("span");
        tabs.className = "tabs";
        tabs.textContent = `${person.tabs} tabs`;
        li.append(tabs);
      }
      rows.push(li);
    }
    const shown = rows.length;
    const total = Math.max(presence.people, shown);
    if (presence.nextPage !== null || total > shown) {
      const more = document.createElement("li");
      more.className = "more";
      more.textContent = `and ${total - shown} more…`;
      rows.push(more);
    }
    list.replaceChildren(...rows);
    $("people-summary").textContent = presence.count > presence.people
      ? `${presence.people} people · ${presence.count} connections` : `${presence.people} ${presence.people === 1 ? "person" : "people"}`;
  }

  /**
   * Place peers' cursors (labelled pointers in their colours).
   * @param {Map<number, {x: number, y: number}>} cursors board positions by peer
   * @param {Map<number, {name: string, color: string}>} peers
   * @param {function(number, number): number[]} toScreen
   */
  drawCursors(cursors, peers, toScreen) {
    const layer = $("cursors");
    for (const [peer, el] of this.cursorEls) {
      if (!cursors.has(peer)) {
        el.remove();
        this.cursorEls.delete(peer);
      }
    }
    for (const [peer, pos] of cursors) {
      const info = peers.get(peer) || { name: `Guest ${peer}`, color: "#546e7a" };
      let el = this.cursorEls.get(peer);
      if (!el) {
        el = document.createElement("div");
        el.className = "peer-cursor";
        const svg = document.createElementNS(SVG_NS, "svg");
        svg.setAttribute("viewBox", "0 0 18 18");
        const path = document.createElementNS(SVG_NS, "path");
        path.setAttribute("d", "M2 1.5l13 6.2-5.6 1.6-2.4 5.4z");
        path.setAttribute("stroke", "#fff");
        path.setAttribute("stroke-width", "1.4");
        svg.append(path);
        const label = document.createElement("span");
        label.className = "label";
        el.append(svg, label);
        layer.append(el);
        this.cursorEls.set(peer, el);
      }
      const color = safeColor(info.color);
      el.querySelector("path").setAttribute("fill", color);
      const label = el.querySelector(".label");
      if (label.textContent !== info.name) label.textContent = info.name;
      label.style.background = color;
      const [sx, sy] = toScreen(pos.x, pos.y);
      el.style.transform = `translate(${sx - 2}px, ${sy - 2}px)`;
    }
  }

  /**
   * A short message at the bottom of the screen.
   * @param {string} text
   */
  toast(text) {
    const el = $("toast");
    el.textContent = text;
    el.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { el.hidden = true; }, 3000);
  }
}

function safeColor(color) {
  return /^#[0-9a-fA-F]{6}$/.test(color) ? color : "#546e7a";
}
