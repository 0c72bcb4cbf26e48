/**
 * Images of the board, decoded once per URL (`createImageBitmap`), in the page and in the layer
 * worker alike. Media URLs name a file by the hash of its bytes, so a decoded image never goes
 * stale. A failed load is not retried until the page reloads (it is drawn as a grey box).
 */

/** @type {Set<function(): void>} told whenever any image has loaded (the page redraws) */
const listeners = new Set();

/**
 * Call `callback` whenever an image has loaded.
 * @param {function(): void} callback
 */
export function onImageLoaded(callback) {
  listeners.add(callback);
}

/** @type {Map<string, {bitmap: ImageBitmap|null, failed: boolean, waiting: Array<function(): void>}>} */
const images = new Map();

/**
 * The decoded image at `url`, or null while it loads (then `onLoad` is called once it can be
 * drawn) or when it failed.
 * @param {string} url
 * @param {function(): void} [onLoad]
 * @returns {ImageBitmap|null}
 */
export function getImage(url, onLoad) {
  let entry = images.get(url);
  if (entry) {
    if (!entry.bitmap && !entry.failed && onLoad) entry.waiting.push(onLoad);
    return entry.bitmap;
  }
  entry = { bitmap: null, failed: false, waiting: onLoad ? [onLoad] : [] };
  images.set(url, entry);
  load(url, entry);
  return null;
}

async function load(url, entry) {
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`${response.status}`);
    entry.bitmap = await createImageBitmap(await response.blob());
  } catch (err) {
    entry.failed = true;
    console.warn("whiteboard: cannot load image", url, err);
  }
  const waiting = entry.waiting;
  entry.waiting = [];
  for (const callback of waiting) callback();
  for (const callback of listeners) callback();
}

/**
 * @param {string} url
 * @returns {boolean} the image is decoded (or failed: nothing more will come)
 */
export function imageSettled(url) {
  const entry = images.get(url);
  return !!entry && (entry.bitmap !== null || entry.failed);
}
