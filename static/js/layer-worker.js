/**
 * The layer worker: a LayerRenderer on an OffscreenCanvas, off the page's thread. It answers
 * `{type: "unsupported"}` to the first message where it cannot draw (no OffscreenCanvas 2D), and
 * the page then draws the layer itself.
 */
import { loadFonts } from "./fonts-load.js";
import { LayerRenderer } from "./layer-renderer.js";

/** Long enough to draw a few hundred strokes, short enough to notice a new view soon. */
const SLICE_MS = 12;
/** While a big view is drawn, show its progress this often. */
const PROGRESS_MS = 100;

const channel = new MessageChannel();
/** @type {Array<function(): void>} */
const queued = [];
channel.port1.onmessage = () => queued.shift()?.();

/** Run `fn` after the messages already waiting (a message round trip, unlike a clamped timer). */
function schedule(fn) {
  queued.push(fn);
  channel.port2.postMessage(null);
}

/** @type {LayerRenderer|null} */
let renderer = null;
/**
 * Strokes need no fonts: the board is drawn while the fonts load (a first visit fetches 370 KB of
 * them), and text waits for them (`LayerRenderer` `fontsPending`). No text may be drawn before:
 * the worker resolves a font string once and keeps what it found, so text drawn with a stand-in
 * would stay in the stand-in for good, on every context (tests/browser/test_fonts_late.py).
 */
let fontsReady = false;
/**
 * The fonts are fetched and decoded (~50 ms of this thread for 370 KB) only once the board holds
 * text or notes: a board of strokes alone never needs them, and while the page boots that time
 * is taken from drawing the first picture.
 */
let fontsAsked = false;

function needFonts() {
  if (fontsAsked) return;
  fontsAsked = true;
  loadFonts(self.fonts).finally(() => {
    fontsReady = true;
    renderer?.fontsLoaded();
  });
}

/** @returns {boolean} the message brings text or a note (packed strokes never do) */
function bringsText(message) {
  const kinds = message.type === "add" ? message.elements
    : message.type === "update" ? message.elements.map(([, element]) => element) : null;
  return !!kinds && kinds.some((element) => element.kind === "text" || element.kind === "note");
}

self.onmessage = (event) => receive(event.data);

function receive(message) {
  if (!fontsAsked && bringsText(message)) needFonts();
  if (!renderer) {
    const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : null;
    if (!canvas || !canvas.getContext("2d", { willReadFrequently: true })) {
      self.postMessage({ type: "unsupported" });
      self.close();
      return;
    }
    renderer = new LayerRenderer(
      canvas,
      (frame, bitmap) => self.postMessage({ type: "frame", frame, bitmap }, [bitmap]),
      { sliceMs: SLICE_MS, progressMs: PROGRESS_MS, schedule, fontsPending: !fontsReady },
    );
  }
  renderer.receive(message);
}
