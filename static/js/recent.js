/**
 * What this browser remembers about the boards it opened: when, the view it left each at, and a
 * small thumbnail. It lives in localStorage only; the server never lists boards (a board's URL is
 * its key), so the home page's "Your boards" is built from here alone.
 *
 * A board is remembered under a key: `b:<id>` for a board opened by its editing URL, `v:<token>`
 * for one opened through a view-only link (whose page never learns the board id).
 */

const LIST_KEY = "whiteboard.recent";
const VIEW_PREFIX = "whiteboard.view.";
const THUMB_PREFIX = "whiteboard.thumb.";
/** Boards remembered; the oldest visit is forgotten first (with its view and thumbnail). */
export const MAX_RECENT_BOARDS = 50;
/** Thumbnail size in CSS pixels (16:10, like most screens); JPEG keeps it to a few KB. */
export const THUMB_WIDTH = 240;
export const THUMB_HEIGHT = 150;

/**
 * @typedef {object} RecentBoard
 * @property {string} key   `b:<id>` or `v:<token>`
 * @property {string} path  where the board opens: `/b/<id>` or `/v/<token>`
 * @property {string} title what the list shows
 * @property {number} visited  ms since the epoch
 */

function read(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled: nothing remembered
  }
}

function write(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, value);
    return true;
  } catch {
    return false; // full or disabled: the board works, it is just not remembered
  }
}

/** @returns {RecentBoard[]} most recent first */
export function recentBoards() {
  let list;
  try {
    list = JSON.parse(read(LIST_KEY) || "[]");
  } catch {
    list = [];
  }
  if (!Array.isArray(list)) return [];
  return list
    .filter((b) => b && typeof b.key === "string" && typeof b.path === "string" && b.path.startsWith("/")
      && typeof b.title === "string" && Number.isFinite(b.visited))
    .sort((a, b) => b.visited - a.visited);
}

/**
 * Note a visit now (on open, and again when the page is left).
 * @param {string} key
 * @param {string} path
 * @param {string} title
 */
export function recordVisit(key, path, title) {
  const list = recentBoards().filter((b) => b.key !== key);
  list.unshift({ key, path, title, visited: Date.now() });
  for (const dropped of list.splice(MAX_RECENT_BOARDS)) forgetBoard(dropped.key, false);
  write(LIST_KEY, JSON.stringify(list));
}

/**
 * Remove a board from the list, with its view and thumbnail.
 * @param {string} key
 * @param {boolean} [fromList]
 */
export function forgetBoard(key, fromList = true) {
  if (fromList) write(LIST_KEY, JSON.stringify(recentBoards().filter((b) => b.key !== key)));
  write(VIEW_PREFIX + key, null);
  write(THUMB_PREFIX + key, null);
}

/**
 * @param {string} key
 * @returns {{x: number, y: number, zoom: number}|null} the view the board was left at
 */
export function loadView(key) {
  const parts = (read(VIEW_PREFIX + key) || "").split(",").map(Number);
  if (parts.length === 3 && parts.every(Number.isFinite) && parts[2] > 0) {
    return { x: parts[0], y: parts[1], zoom: parts[2] };
  }
  return null;
}

/**
 * @param {string} key
 * @param {{x: number, y: number, zoom: number}} view
 */
export function saveView(key, view) {
  write(VIEW_PREFIX + key, `${view.x.toFixed(2)},${view.y.toFixed(2)},${+view.zoom.toFixed(5)}`);
}

/**
 * @param {string} key
 * @returns {string|null} a data: URL
 */
export function loadThumbnail(key) {
  const url = read(THUMB_PREFIX + key);
  return url && url.startsWith("data:image/") ? url : null;
}

/**
 * A thumbnail of part of what the canvas shows now, on white.
 * @param {string} key
 * @param {HTMLCanvasElement} canvas
 * @param {number[]} rect  [x, y, width, height] in canvas pixels, 16:10 (see `thumbnailRect`)
 */
export function saveThumbnail(key, canvas, rect) {
  const thumb = document.createElement("canvas");
  const scale = window.devicePixelRatio > 1 ? 2 : 1;
  thumb.width = THUMB_WIDTH * scale;
  thumb.height = THUMB_HEIGHT * scale;
  const ctx = thumb.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, thumb.width, thumb.height);
  ctx.drawImage(canvas, rect[0], rect[1], rect[2], rect[3], 0, 0, thumb.width, thumb.height);
  write(THUMB_PREFIX + key, thumb.toDataURL("image/jpeg", 0.7));
}

/**
 * The part of a canvas worth a thumbnail: the drawing's box on screen with a margin, widened to
 * 16:10 and kept within the canvas.
 * @param {number[]} box  the drawing's bounding box in canvas pixels [x0, y0, x1, y1]
 * @param {number} width  canvas pixels
 * @param {number} height
 * @returns {number[]|null} [x, y, width, height], or null when the drawing is off-screen
 */
export function thumbnailRect(box, width, height) {
  const x0 = Math.max(0, box[0]);
  const y0 = Math.max(0, box[1]);
  const x1 = Math.min(width, box[2]);
  const y1 = Math.min(height, box[3]);
  if (x1 <= x0 || y1 <= y0) return null;
  const aspect = THUMB_WIDTH / THUMB_HEIGHT;
  const margin = 0.15;
  let w = Math.max((x1 - x0) * (1 + 2 * margin), (y1 - y0) * (1 + 2 * margin) * aspect, width / 8);
  let h = w / aspect;
  if (w > width) [w, h] = [width, width / aspect];
  if (h > height) [w, h] = [height * aspect, height];
  const cx = Math.min(Math.max((x0 + x1) / 2, w / 2), width - w / 2);
  const cy = Math.min(Math.max((y0 + y1) / 2, h / 2), height - h / 2);
  return [cx - w / 2, cy - h / 2, w, h];
}

/**
 * "just now", "5 min ago", "3 h ago", "2 days ago", then the date.
 * @param {number} then  ms since the epoch
 * @param {number} now
 * @returns {string}
 */
export function ago(then, now = Date.now()) {
  const minutes = Math.floor((now - then) / 60_000);
  if (minutes < 1) return "just now";
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours} h ago`;
  const days = Math.floor(hours / 24);
  if (days < 14) return days === 1 ? "yesterday" : `${days} days ago`;
  return new Date(then).toLocaleDateString();
}

/** Milliseconds a view must stay put before it is written down (a pan writes it once, at the end). */
const VIEW_SAVE_DELAY_MS = 400;
/** Milliseconds after the last change of the board before a fresh thumbnail is taken. */
const THUMB_DELAY_MS = 3000;

/**
 * One board page's memory: the visit, the view it is left at, its thumbnail.
 */
export class BoardMemory {
  /**
   * @param {string} key  `b:<id>` or `v:<token>`
   * @param {string} path
   * @param {string} title
   */
  constructor(key, path, title) {
    this.key = key;
    this.path = path;
    this.title = title;
    this.savedView = "";
    this.viewTimer = 0;
    this.thumbTimer = 0;
    this.changed = false;
    this.takeThumbnail = () => {};
    recordVisit(key, path, title);
  }

  /** @returns {{x: number, y: number, zoom: number}|null} where this board was left */
  view() {
    return loadView(this.key);
  }

  /**
   * The page shows this view now (called every frame; written down once it stays put). Once the
   * view moves, a `#x,y,zoom` in the URL is dropped: it was where the page opened, and a reload
   * should come back to where the user is, not to where the link pointed.
   * @param {{x: number, y: number, zoom: number}} view
   */
  viewShown(view) {
    const text = `${view.x},${view.y},${view.zoom}`;
    if (text === this.savedView) return;
    const first = this.savedView === "";
    this.savedView = text;
    if (first) return; // the view the page opened at: nothing new to remember
    if (location.hash) history.replaceState(null, "", location.pathname + location.search);
    clearTimeout(this.viewTimer);
    this.viewTimer = setTimeout(() => saveView(this.key, view), VIEW_SAVE_DELAY_MS);
  }

  /**
   * The board changed: take a new thumbnail once it has been quiet for a moment. Called for every
   * op (10,000 in a big replay), so it only notes the change; one timer looks at it.
   */
  boardChanged() {
    this.changed = true;
    if (this.thumbTimer) return;
    const check = () => {
      if (this.changed) {
        this.changed = false;
        this.thumbTimer = setTimeout(check, THUMB_DELAY_MS);
        return;
      }
      this.thumbTimer = 0;
      this.takeThumbnail();
    };
    this.changed = false;
    this.thumbTimer = setTimeout(check, THUMB_DELAY_MS);
  }

  /**
   * Take thumbnails of `canvas` after changes and whenever the page is hidden or left.
   * @param {HTMLCanvasElement} canvas
   * @param {function(): (number[]|null)} drawingBox  the drawing's box in canvas pixels, or null
   *   when there is nothing worth a picture now (an empty board, the canvas mid-rebuild)
   */
  keepThumbnail(canvas, drawingBox) {
    this.takeThumbnail = () => {
      const box = drawingBox();
      const rect = box && thumbnailRect(box, canvas.width, canvas.height);
      if (rect) saveThumbnail(this.key, canvas, rect);
    };
    const leaving = () => {
      clearTimeout(this.viewTimer);
      const [x, y, zoom] = this.savedView.split(",").map(Number);
      if (this.savedView) saveView(this.key, { x, y, zoom });
      this.takeThumbnail();
      recordVisit(this.key, this.path, this.title);
    };
    document.addEventListener("visibilitychange", () => { if (document.hidden) leaving(); });
    window.addEventListener("pagehide", leaving);
  }
}
