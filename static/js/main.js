/**
 * The board page: wires the board mirror, the session, the socket, the surface, tools and UI.
 * Sends at most one frame per animation frame: everything tools and the UI do is queued in the
 * session and flushed by the frame loop.
 */
import { Board, setTextMeasure } from "./board.js";
import { Surface } from "./canvas.js";
import { Connection } from "./connection.js";
import { loadFonts } from "./fonts-load.js";
import { onImageLoaded } from "./images.js";
import { loadIdentity, saveIdentity } from "./identity.js";
import { attachInput } from "./input.js";
import { ID_PATTERN } from "./protocol.js";
import { Session } from "./session.js";
import * as eraser from "./tools/eraser.js";
import * as ellipse from "./tools/ellipse.js";
import * as hand from "./tools/hand.js";
import * as highlighter from "./tools/highlighter.js";
import * as laser from "./tools/laser.js";
import * as lasso from "./tools/lasso.js";
import * as line from "./tools/line.js";
import * as pen from "./tools/pen.js";
import * as note from "./tools/note.js";
import * as rect from "./tools/rect.js";
import * as select from "./tools/select.js";
import * as text from "./tools/text.js";
import { TextEditor } from "./editor.js";
import { Selection } from "./selection.js";
import { attachImageInput } from "./upload.js";
import { PALETTE, UI, WIDTHS } from "./ui.js";
import { describeHeld, isStale, OfflineStore, splitStale } from "./offline.js";
import { ago, BoardMemory } from "./recent.js";
import { cssFont } from "./text.js";
import { Lasers } from "./laser.js";
import { Presenting } from "./presenting.js";

const TOOLS = new Map(
  [pen, highlighter, eraser, line, rect, ellipse, laser, hand, select, lasso, text, note].map((t) => [t.name, t]),
);
const STYLE_KEY = "whiteboard.style";
/** Shortcuts a view-only page ignores: they would change the board (the server refuses them). */
const WRITING_SHORTCUTS = new Set(["undo", "redo"]);
const ERROR_TEXT = {
  board_full: "This board is full: no more strokes can be added.",
  storage_full: "The server is out of space: that change was not saved.",
  stroke_too_long: "That stroke was too long to save.",
};

/** What the page says when the server closed the connection for a reason the user can act on
 * or should know (docs/protocol.md, "Close codes"); it reconnects in every case but 4006. */
const CLOSE_TEXT = {
  4001: "This board is full. Trying again in a moment…",
  4002: "Too much was sent too fast: reconnecting more slowly.",
  4004: "The connection fell behind: catching up…",
};

/**
 * `/b/<id>`: the board, to draw on. `/v/<token>`: its view-only link (docs/security.md): the same
 * page without tools, whose every request names the token, never the board id (it does not know
 * it).
 */
const [, kind, rawKey] = location.pathname.split("/");
const viewOnly = kind === "v";
const boardKey = decodeURIComponent(rawKey || "");
if (!ID_PATTERN.test(boardKey) || !["b", "v"].includes(kind)) {
  throw new Error(`not a board page: ${location.pathname}`);
}
const base = `/${kind}/${encodeURIComponent(boardKey)}`;
const boardId = viewOnly ? "" : boardKey;

const memory = new BoardMemory(`${kind}:${boardKey}`, location.pathname, viewOnly ? "View only" : boardKey);
const identity = loadIdentity();
const board = new Board();
const session = new Session(board, identity);
session.viewOnly = viewOnly;
const canvas = /** @type {HTMLCanvasElement} */ (document.getElementById("board"));
const previews = new Set();
/** Element ids a preview stands for (moved, or their text being edited): hidden on the layer. */
let previewHidden = new Set();
const surface = new Surface(canvas, board, {
  overlays: () => (previews.size ? [...session.overlayStrokes(), ...previews] : session.overlayStrokes()),
  overlayElements: () => session.previews.elements(session.pending.values(), session.mediaBase),
  isHidden: (id) => session.localHidden.has(id) || previewHidden.has(id),
  caughtUp: () => session.welcomeSeq !== null && board.seq >= session.welcomeSeq,
  joinedSeq: () => session.welcomeSeq,
  mediaBase: () => session.mediaBase,
});

surface.committed.onFresh = () => requestFrame();
onImageLoaded(() => requestFrame());

const offline = new OfflineStore(memory.key, isDestructive);
session.outbox.store = offline;

const style = loadStyle();
let tool = pen;
/** Set once the selection exists (below): switching to a drawing tool drops the selection. */
let clearSelection = () => {};

// --- the frame loop -------------------------------------------------------------------------

let frameScheduled = false;
let lastZoom = NaN;
function requestFrame() {
  if (frameScheduled) return;
  frameScheduled = true;
  // Hidden tabs get no animation frames; a slow timer still delivers what was drawn.
  if (document.hidden) setTimeout(tick, 100);
  else requestAnimationFrame(tick);
}
function tick() {
  frameScheduled = false;
  for (const message of lasers.take()) session.sendEphemeral(message);
  const sending = session.flush();
  updateHistory();
  const drawing = surface.frame();
  const presenting = stage.beforeFrame(performance.now());
  ui.drawCursors(session.cursors, session.peers, (x, y) => surface.toScreen(x, y));
  app.selection.render(select.dragging());
  app.editor.place();
  if (surface.view.zoom !== lastZoom) {
    lastZoom = surface.view.zoom;
    ui.setZoom(lastZoom);
  }
  memory.viewShown(surface.view);
  if (sending || drawing || presenting) requestFrame();
}
// A large room sends only some cursors: the others fade out when they are no longer sent.
setInterval(() => { if (session.presence.expireCursors(performance.now())) requestFrame(); }, 1000);
document.addEventListener("visibilitychange", () => {
  frameScheduled = false;
  requestFrame();
});

// --- UI -------------------------------------------------------------------------------------

const ui = new UI({
  tool: setTool,
  color: (color) => { style.color = color; saveStyle(); ui.setColor(color); },
  width: (width) => { style.width = width; saveStyle(); ui.setWidth(width); },
  undo: () => { session.undo(); requestFrame(); },
  redo: () => { session.redo(); requestFrame(); },
  clear: () => { session.clear(); requestFrame(); },
  pickImage: () => document.getElementById("image-file").click(),
  zoomBy: (factor) => { surface.zoomAt(factor, surface.width / 2, surface.height / 2); requestFrame(); },
  zoomReset: () => { surface.zoomAt(1 / surface.view.zoom, surface.width / 2, surface.height / 2); requestFrame(); },
  zoomFit: () => { surface.fit(board.visibleBounds()); requestFrame(); },
  retry: () => connection.retryNow(),
  rename: (name, color) => {
    session.rename(name, color);
    saveIdentity(identity);
    ui.setMe(identity);
    const me = session.me && session.peers.get(session.me.peer);
    if (me) Object.assign(me, { name, color });
    ui.setPeers(session.presence, session.me?.peer ?? null);
    requestFrame();
  },
  morePeers: () => { session.morePeers(); requestFrame(); },
  viewLink: () => {
    const { x, y, zoom } = surface.view;
    const link = session.shareUrl || `${location.origin}${location.pathname}`;
    return `${link}#${x.toFixed(1)},${y.toFixed(1)},${+zoom.toFixed(4)}`;
  },
  followMe: () => { if (stage.leading) stage.stopLeading(); else stage.startLeading(); },
  bringHere: () => stage.bringEveryone(),
}, { page: { base, name: viewOnly ? "whiteboard" : boardId, viewOnly } });

const lasers = new Lasers(/** @type {HTMLCanvasElement} */ (document.getElementById("lasers")), surface);
const stage = new Presenting({
  surface,
  send: (message) => { const queued = session.sendEphemeral(message); requestFrame(); return queued; },
  requestFrame,
  toast: (text) => ui.toast(text),
});

let historyState = "";
/** Undo/redo buttons follow our own stacks on the board, plus what is still pending. */
function updateHistory() {
  const { undo, redo } = session.history();
  const state = `${undo > 0}${redo > 0}`;
  if (state === historyState) return;
  historyState = state;
  ui.setHistory(undo > 0, redo > 0);
}

function setTool(name) {
  tool = viewOnly ? hand : TOOLS.get(name) || pen;
  if (tool !== select && tool !== lasso) clearSelection(); // lasso selects for select to act on
  canvas.style.cursor = tool.cursor;
  ui.setTool(tool.name);
}

ui.setTool(tool.name);
ui.setColor(style.color);
ui.setWidth(style.width);
ui.setMe(identity);
ui.setPeers(session.presence, null);
ui.setShareUrl(`${location.origin}${location.pathname}`);

// --- session events ------------------------------------------------------------------------

session.on.change = (change) => {
  for (const rec of change.added) surface.strokeAdded(rec);
  if (change.moved.length || change.reordered.length) {
    surface.elementsChanged([...change.moved.map((moved) => moved.rec), ...change.reordered]);
  }
  arrival.changed();
  memory.boardChanged();
  const boxes = [...change.shown, ...change.hidden].map((rec) => rec.bbox);
  if (boxes.length) surface.invalidateBoxes(boxes);
  requestFrame();
};
session.on.hidden = (ids) => {
  const boxes = ids.map((id) => board.strokes.get(id)?.bbox).filter(Boolean);
  surface.invalidateBoxes(boxes);
  requestFrame();
};
session.on.overlay = requestFrame;
session.on.previews = () => {
  const hidden = new Set(session.previews.hiddenIds());
  const changed = [...hidden].filter((id) => !previewHidden.has(id));
  for (const id of previewHidden) if (!hidden.has(id)) changed.push(id);
  previewHidden = hidden;
  const boxes = changed.map((id) => board.strokes.get(id)?.bbox).filter(Boolean);
  if (boxes.length) surface.invalidateBoxes(boxes);
  requestFrame();
};
session.on.cursors = requestFrame;
session.on.reset = () => { surface.invalidateAll(); requestFrame(); };
session.on.peers = () => ui.setPeers(session.presence, session.me?.peer ?? null);
session.on.welcome = (welcome) => {
  if (session.shareUrl) ui.setShareUrl(session.shareUrl);
  stage.welcomed(welcome);
  arrival.welcomed(welcome.seq);
  requestFrame();
};
session.on.event = (message) => {
  if (message.type === "lead") stage.received(message);
  else if (message.type === "laser") lasers.received(message);
};
session.on.error = (message) => {
  const text = ERROR_TEXT[message.code];
  if (text) ui.toast(text);
  else if (message.code !== "unknown_stroke") console.warn("whiteboard: refused:", message.code, message.reason);
};

const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const connection = new Connection(() => session.address(`${scheme}//${location.host}${base}/ws`), {
  onMessages: (messages) => session.onMessages(messages),
  onClose: (code) => {
    session.onClose();
    const text = CLOSE_TEXT[code];
    if (text) ui.toast(text);
    requestFrame();
  },
  onStatus: (status) => ui.setStatus(status),
});
session.conn = connection;

// --- input and view ---------------------------------------------------------------------------

const app = {
  session, surface, board, previews, lasers, requestFrame, style: () => currentStyle(), boardId,
  isHidden: (id) => session.localHidden.has(id) || previewHidden.has(id),
  toast: (message) => ui.toast(message),
};
app.editor = new TextEditor(app);
app.selection = new Selection(app);
clearSelection = () => app.selection.clear();
// A view-only page takes no images: no paste, no drop, no picker (it could not upload anyway).
if (!viewOnly) attachImageInput(app, canvas, /** @type {HTMLInputElement} */ (document.getElementById("image-file")));
attachInput({
  canvas, surface, session, app, requestFrame,
  dismiss: () => ui.panels.dismiss(),
  finishEditing: () => app.editor.finish(),
  tool: () => tool,
  shortcut: (name) => {
    if (viewOnly && WRITING_SHORTCUTS.has(name)) return;
    if (name === "undo") session.undo();
    else if (name === "redo") session.redo();
    else if (name === "zoom-in") surface.zoomAt(1.25, surface.width / 2, surface.height / 2);
    else if (name === "zoom-out") surface.zoomAt(0.8, surface.width / 2, surface.height / 2);
    else if (name === "zoom-reset") surface.zoomAt(1 / surface.view.zoom, surface.width / 2, surface.height / 2);
    else if (name === "zoom-fit") surface.fit(board.visibleBounds());
    else if (name === "escape") {
      ui.closePanels();
      app.selection.clear();
    }
    else if (name === "help") ui.toggleHelp();
    else if (TOOLS.has(name)) setTool(name);
    requestFrame();
  },
  elementKey: (ev) => elementKey(ev),
});

/**
 * Keys acting on the selection: Delete, Ctrl+D (duplicate), Ctrl+A (select all), ] and [ (front,
 * back), arrows (nudge one unit; Shift: ten).
 * @param {KeyboardEvent} ev
 * @returns {boolean} the key was used
 */
function elementKey(ev) {
  if (viewOnly) return false; // nothing to select, delete, duplicate or move
  const selection = app.selection;
  const mod = ev.ctrlKey || ev.metaKey;
  const key = ev.key.toLowerCase();
  if (mod && key === "a") {
    setTool("select");
    selection.set(board.visibleStrokes().filter((rec) => !app.isHidden(rec.id)).map((rec) => rec.id));
    return true;
  }
  if (selection.ids.size === 0) return false;
  const step = (ev.shiftKey ? 10 : 1) / surface.view.zoom;
  const arrows = { arrowleft: [-step, 0], arrowright: [step, 0], arrowup: [0, -step], arrowdown: [0, step] };
  if (ev.key === "Delete" || ev.key === "Backspace") selection.delete();
  else if (mod && key === "d") selection.duplicate();
  else if (!mod && ev.key === "]") selection.reorder("front");
  else if (!mod && ev.key === "[") selection.reorder("back");
  else if (!mod && arrows[key]) selection.nudge(...arrows[key]);
  else return false;
  requestFrame();
  return true;
}

function currentStyle() {
  const width = tool.name === "highlighter" ? style.width * 4 : style.width;
  return { tool: tool.name, color: style.color, width: tool.name === "text" || tool.name === "note" ? style.width : width };
}

const DEFAULT_VIEW = Object.freeze({ x: 0, y: 0, zoom: 1 });

/** `#x,y,zoom`: the board point at the top-left corner and the zoom; null when absent. */
function viewFromHash() {
  const parts = location.hash.slice(1).split(",").map(Number);
  if (parts.length === 3 && parts.every(Number.isFinite) && parts[2] > 0) {
    return { x: parts[0], y: parts[1], zoom: parts[2] };
  }
  return null;
}
window.addEventListener("hashchange", () => { surface.setView(viewFromHash() || DEFAULT_VIEW); requestFrame(); });

/**
 * Where the page opens: the view in the URL, else the view this browser left the board at, else
 * (a first visit) the drawing itself: the view the server picked for the first picture of a big
 * board (index.html, frame.py `fit_view`: this window's zoom to fit, the page's rule) as soon as
 * it is known, and once the replay is in, zoom to fit it unless it is already in sight, so a
 * phone does not open at 0,0 with everything off-screen. Neither moves a view the user moved.
 */
const arrival = (() => {
  const start = viewFromHash() || memory.view();
  let waitingFor = start ? null : Infinity; // the welcome's seq, once known
  /** The view the page opened at, or was moved to by this: any other was the user's doing. */
  let opened = start || DEFAULT_VIEW;
  const untouched = () => {
    const { x, y, zoom } = surface.view;
    return x === opened.x && y === opened.y && zoom === opened.zoom;
  };
  const picture = window.__whiteboardFirstPicture;
  if (!start && picture?.fit) {
    if (picture.view) opened = picture.view;
    else {
      picture.onView = (view) => {
        if (waitingFor === null || !untouched()) return;
        surface.setView(view);
        opened = { ...surface.view };
        requestFrame();
      };
    }
  }
  const settle = () => {
    if (waitingFor === null || board.seq < waitingFor) return;
    waitingFor = null;
    const box = board.visibleBounds();
    if (box && untouched() && !inView(box)) {
      surface.fit(box);
      requestFrame();
    }
  };
  return {
    /** @returns {{x: number, y: number, zoom: number}} the view to open at, as known now */
    get start() {
      return opened;
    },
    /** @param {number} seq  the board's head when we joined */
    welcomed(seq) {
      if (waitingFor !== null) waitingFor = seq;
      settle();
    },
    changed: settle,
  };
})();

/** @param {number[]} box [minX, minY, maxX, maxY] @returns {boolean} wholly on screen */
function inView(box) {
  const { x, y, zoom } = surface.view;
  return box[0] >= x && box[1] >= y && box[2] <= x + surface.width / zoom && box[3] <= y + surface.height / zoom;
}
window.addEventListener("resize", () => { surface.resize(); stage.resized(); requestFrame(); });

function loadStyle() {
  const fallback = { color: PALETTE[0], width: WIDTHS[1] };
  try {
    const stored = JSON.parse(localStorage.getItem(STYLE_KEY) || "null");
    if (stored && /^#[0-9a-f]{6}$/i.test(stored.color) && WIDTHS.includes(stored.width)) return stored;
  } catch {
    // storage disabled: defaults
  }
  return fallback;
}
function saveStyle() {
  try {
    localStorage.setItem(STYLE_KEY, JSON.stringify(style));
  } catch {
    // not remembered; fine
  }
}

/**
 * Load the board fonts and measure text with them (bounding boxes of text and notes); text
 * already on the board is laid out again. A page whose fonts fail keeps the estimate.
 */
async function useFonts() {
  if (!(await loadFonts(document.fonts))) return;
  const measuring = document.createElement("canvas").getContext("2d");
  const widths = new Map();
  setTextMeasure((line, size) => {
    const key = `${size}\u0000${line}`;
    let width = widths.get(key);
    if (width === undefined) {
      measuring.font = cssFont(size);
      width = measuring.measureText(line).width;
      if (widths.size > 10_000) widths.clear();
      widths.set(key, width);
    }
    return width;
  });
  surface.elementsChanged(board.order.filter((rec) => rec.kind === "text" || rec.kind === "note"));
  requestFrame();
}

// --- ink kept offline --------------------------------------------------------------------------

/**
 * Ops that, sent late, could undo other people's work: clear, undo, redo, and an erase of strokes
 * someone else drew (or that this page cannot tell are its own).
 * @param {object} message
 * @returns {boolean}
 */
function isDestructive(message) {
  if (message.type === "stroke") return false;
  if (message.type !== "erase") return true;
  const me = session.me?.author;
  return message.ids.some((id) => {
    const rec = board.strokes.get(id);
    return rec ? !me || rec.by !== me : !session.pending.has(id);
  });
}

/**
 * Resend what earlier pages of this board kept and never got acknowledged; old destructive ops
 * (and what came after them) wait for the user's word.
 */
async function restoreKept() {
  const kept = await offline.open();
  const { now, held } = splitStale(kept, Date.now());
  for (const record of now) session.restore(record.message);
  if (held.length === 0) return;
  const dropped = held.filter((r) => r.destructive && isStale(r));
  const decide = (send) => {
    ui.hideBanner();
    for (const record of held) {
      if (send || !dropped.includes(record)) session.restore(record.message);
      else offline.remove(record.id);
    }
    requestFrame();
  };
  ui.showBanner(
    `Not sent yet: ${describeHeld(held)}, made on this board ${ago(held[0].storedAt)} while `
      + "offline. Others may have drawn since.",
    "Send all", () => decide(true),
    { label: `Don't send ${describeHeld(dropped)}`, action: () => decide(false) },
  );
}

// Closing the page loses only what could not be stored (IndexedDB or localStorage refused).
window.addEventListener("beforeunload", (event) => {
  if (offline.unsaved.size === 0) return;
  event.preventDefault();
  event.returnValue = "";
});

// --- test hook: a read-only summary and a simulated network failure, for browser tests -------

Object.defineProperty(window, "__whiteboard", {
  value: Object.freeze({
    /** @returns {object} a snapshot of the page's state */
    summary() {
      return {
        board: boardKey,
        viewOnly,
        tool: tool.name,
        following: stage.following,
        leading: stage.leading,
        leader: stage.leader && { ...stage.leader },
        laserPoints: lasers.shown,
        seq: board.seq,
        strokes: board.strokes.size,
        visible: board.visibleStrokes().map((rec) => rec.id),
        withPressure: board.order.filter((rec) => rec.op.p).length,
        elements: board.visibleStrokes().map((rec) => ({
          id: rec.id, kind: rec.kind, text: rec.text, m: [...rec.m], bbox: [...rec.bbox], by: rec.by,
        })),
        drafts: [...session.previews.drafts.values()].map((d) => ({ id: d.id, peer: d.peer, text: d.text })),
        moves: session.previews.moves.size,
        selected: app.selection.list(),
        editing: app.editor.open !== null,
        status: connection.status,
        ready: session.ready,
        pending: session.pending.size,
        kept: offline.kept.size,
        unsaved: offline.unsaved.size,
        ownLive: session.ownLive.size,
        peerLive: [...session.peerLive.keys()],
        peers: [...session.peers.values()].map((p) => ({ ...p })),
        cursors: session.cursors.size,
        me: session.me,
        view: { ...surface.view },
        busy: surface.busy,
        framesSent: session.framesSent || 0,
        stats: { ...surface.stats },
        frameTimes: [...surface.frameTimes],
      };
    },
    /** Close the socket as a network failure would; the page reconnects and resumes. */
    dropConnection() {
      connection.drop();
    },
  }),
});

surface.resize();
surface.setView(arrival.start);
memory.keepThumbnail(canvas, () => {
  const box = !surface.busy && board.visibleBounds();
  if (!box) return null;
  const [x0, y0] = surface.toScreen(box[0], box[1]);
  const [x1, y1] = surface.toScreen(box[2], box[3]);
  return [x0 * surface.dpr, y0 * surface.dpr, x1 * surface.dpr, y1 * surface.dpr];
});
setTool("pen");
// The socket first: restoring kept ops reads IndexedDB (30-140 ms on a cold page), and restored
// ops are sent whenever they arrive (session.restore), so the replay need not wait for it.
// The fonts load meanwhile; text already drawn is laid out again once they are in (useFonts).
const fontsLoaded = useFonts();
connection.start();
if (!viewOnly) await restoreKept();
await fontsLoaded;
requestFrame();
