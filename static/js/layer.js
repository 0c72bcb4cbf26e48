/**
 * Where the committed layer is drawn: in a worker when the browser can draw there (OffscreenCanvas
 * 2D in a module worker: every current browser), else on the page, in slices the frame loop
 * drives. Either way the page posts the same messages (layer-renderer.js) and gets snapshots back.
 * The page loads the renderer's code only when it must draw itself: it is the worker's, and a
 * longer chain of static imports would delay the page's start.
 */

/** Page fallback: drawing per animation frame, so a huge board never blocks a frame. */
const PAGE_SLICE_MS = 6;
const PAGE_PROGRESS_MS = 100;

/** The layer renderer, wherever it runs. */
export class Layer {
  /**
   * @param {function(import("./layer-renderer.js").FrameInfo, ImageBitmap): void} onFrame
   * @param {function(): void} onRestart  the renderer was replaced: post everything again
   * @param {boolean} [onPage]  draw on the page from the start
   */
  constructor(onFrame, onRestart, onPage = false) {
    this.onFrame = onFrame;
    this.onRestart = onRestart;
    /** @type {Worker|null} */
    this.worker = null;
    /** @type {import("./layer-renderer.js").LayerRenderer|null} */
    this.local = null;
    /** @type {object[]|null} messages posted while the page's renderer loads */
    this.waiting = null;
    if (onPage) {
      this.#fallBack(false);
      return;
    }
    try {
      this.worker = new Worker(new URL("./layer-worker.js", import.meta.url), { type: "module" });
      this.worker.onmessage = (event) => this.#fromWorker(event.data);
      this.worker.onerror = (event) => {
        event.preventDefault?.();
        console.warn("whiteboard: the layer worker failed; drawing on the page", event.message);
        this.#fallBack();
      };
    } catch (err) {
      console.warn("whiteboard: no layer worker; drawing on the page", err);
      this.#fallBack(false); // nothing was posted yet
    }
  }

  /** @returns {"worker"|"page"} where the layer is drawn */
  get where() {
    return this.worker ? "worker" : "page";
  }

  /**
   * Send a message to the renderer (layer-renderer.js lists them).
   * @param {object} message
   * @param {Transferable[]} [transfer] buffers the caller gives up (moved to the worker)
   */
  post(message, transfer = []) {
    if (this.worker) this.worker.postMessage(message, transfer);
    else if (this.local) this.local.receive(message);
    else this.waiting.push(message);
  }

  /**
   * Give the page's renderer a slice of this frame (nothing to do when a worker draws).
   * @returns {boolean} it has more to draw
   */
  pump() {
    return this.local ? this.local.pump(PAGE_SLICE_MS) : false;
  }

  #fromWorker(data) {
    if (data.type === "frame") this.onFrame(data.frame, data.bitmap);
    else if (data.type === "unsupported") this.#fallBack();
  }

  /** Stop the worker (the page is done with this layer). */
  close() {
    this.worker?.terminate();
    this.worker = null;
  }

  #fallBack(restart = true) {
    if (this.local || this.waiting) return;
    this.worker?.terminate();
    this.worker = null;
    this.waiting = [];
    import("./layer-renderer.js").then(({ LayerRenderer }) => {
      const canvas = typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : document.createElement("canvas");
      this.local = new LayerRenderer(canvas, (frame, bitmap) => this.onFrame(frame, bitmap), {
        sliceMs: PAGE_SLICE_MS, progressMs: PAGE_PROGRESS_MS, schedule: null,
      });
      for (const message of this.waiting) this.local.receive(message);
      this.waiting = null;
    });
    if (restart) this.onRestart();
  }
}
