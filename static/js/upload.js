/**
 * Images onto the board: pasted (Ctrl/Cmd+V), dropped, or picked from a file (the only way on a
 * phone). The file is uploaded first (`POST /b/<id>/media`, docs/protocol.md Uploads); the server
 * checks and re-encodes it and answers its `src` and size; then one `image` op places it in the
 * middle of the view, at its own size or smaller to fit.
 */
import { LIMITS } from "./limits.js";
import { newId } from "./protocol.js";

/** Share of the view an image may cover when placed. */
const FIT_SHARE = 0.6;
export const ACCEPTED = "image/png,image/jpeg,image/webp,image/gif";

/**
 * Upload `file` and place it on the board.
 * @param {object} app  the ToolApp, with `boardId` and `toast`
 * @param {Blob} file
 * @returns {Promise<string|null>} the image op's id, or null when refused (the user was told)
 */
export async function placeImage(app, file) {
  if (file.size > LIMITS.maxUploadBytes) {
    app.toast(`That image is too large (${Math.round(file.size / 1048576)} MB; the limit is ${LIMITS.maxUploadBytes / 1048576} MB).`);
    return null;
  }
  let body;
  try {
    const response = await fetch(`/b/${encodeURIComponent(app.boardId)}/media`, {
      method: "POST", body: file, headers: { "Content-Type": file.type || "application/octet-stream" },
    });
    body = await response.json().catch(() => ({}));
    if (!response.ok) {
      app.toast(`The image was not added: ${body.error || response.statusText}`);
      return null;
    }
  } catch {
    app.toast("The image was not added: the server cannot be reached.");
    return null;
  }
  const { surface } = app;
  const viewW = surface.width / surface.view.zoom;
  const viewH = surface.height / surface.view.zoom;
  const scale = Math.min(1, (FIT_SHARE * viewW) / body.width, (FIT_SHARE * viewH) / body.height);
  const w = body.width * scale;
  const h = body.height * scale;
  const x = surface.view.x + (viewW - w) / 2;
  const y = surface.view.y + (viewH - h) / 2;
  const id = newId();
  app.session.commitElementOp({ type: "image", id, src: body.src, x, y, w, h });
  app.selection.set([id]);
  return id;
}

/**
 * Paste, drop and the file picker.
 * @param {object} app
 * @param {HTMLCanvasElement} canvas
 * @param {HTMLInputElement} picker  an `<input type=file>`
 */
export function attachImageInput(app, canvas, picker) {
  document.addEventListener("paste", (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement;
    if (typing || !ev.clipboardData) return;
    const item = [...ev.clipboardData.items].find((i) => i.kind === "file" && i.type.startsWith("image/"));
    const file = item?.getAsFile();
    if (!file) return;
    ev.preventDefault();
    placeImage(app, file);
  });
  canvas.addEventListener("dragover", (ev) => {
    if ([...(ev.dataTransfer?.items || [])].some((i) => i.kind === "file")) ev.preventDefault();
  });
  canvas.addEventListener("drop", (ev) => {
    const file = [...(ev.dataTransfer?.files || [])].find((f) => f.type.startsWith("image/"));
    if (!file) return;
    ev.preventDefault();
    placeImage(app, file);
  });
  picker.accept = ACCEPTED;
  picker.addEventListener("change", () => {
    const file = picker.files?.[0];
    picker.value = "";
    if (file) placeImage(app, file);
  });
}
