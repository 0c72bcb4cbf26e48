/**
 * The wire protocol's browser side: msgpack frames, delta-coded points, ids.
 * Names follow `whiteboard/protocol.py`; the reference is docs/protocol.md.
 */
import { decode } from "../vendor/msgpack/decode.mjs";
import { encode } from "../vendor/msgpack/encode.mjs";
import { LIMITS } from "./limits.js";

/**
 * The protocol version this page speaks (`hello.v`; whiteboard/protocol.py PROTOCOL_VERSION).
 * A server that no longer speaks it closes with 4006 and the page asks the user to reload.
 */
export const PROTOCOL_VERSION = 9;
/** The subprotocol offered with a hello in the URL (protocol.py SUBPROTOCOL). */
export const SUBPROTOCOL = "whiteboard";
/** Before the secret client id in the other subprotocol offered (protocol.py). */
export const CLIENT_SUBPROTOCOL_PREFIX = "whiteboard.client.";

export { absolutePoints } from "./points.js";

export const COORD_SCALE = LIMITS.coordScale;
export const PRESSURE_SCALE = LIMITS.pressureScale;
export const TOOLS = Object.freeze(["pen", "highlighter", "line", "rect", "ellipse"]);
export const SHAPE_TOOLS = Object.freeze(["line", "rect", "ellipse"]);
/** Board ids and op ids: 1-64 characters of A-Z a-z 0-9 _ - */
export const ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

const ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/**
 * A random id of `length` characters. Uses crypto.getRandomValues, which (unlike randomUUID)
 * exists outside secure contexts too, so plain http on a LAN address works.
 * @param {number} [length]
 * @returns {string}
 */
export function newId(length = 16) {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  let out = "";
  for (const byte of bytes) out += ID_ALPHABET[byte % ID_ALPHABET.length];
  return out;
}

/**
 * Board units -> quanta (1/COORD_SCALE units), rounding like Python's round() for halves is not
 * needed: any consistent rounding is fine because the quanta are what is stored.
 * @param {number} value
 * @returns {number}
 */
export function quantise(value) {
  return Math.round(value * COORD_SCALE);
}

/**
 * Encode one message map (or a batch) as the bytes of one binary frame.
 * @param {object} message
 * @returns {Uint8Array}
 */
export function encodeFrame(message) {
  return encode(message);
}

/**
 * Encode several messages as one frame: the single message itself, or a `batch`.
 * @param {object[]} messages
 * @returns {Uint8Array}
 */
export function encodeBatch(messages) {
  return encode(messages.length === 1 ? messages[0] : { type: "batch", ops: messages });
}

/**
 * Decode one server frame into its messages (a batch is unwrapped).
 * @param {ArrayBuffer|Uint8Array} data
 * @returns {object[]} message maps; an undecodable frame yields an empty list
 */
export function decodeFrame(data) {
  let obj;
  try {
    obj = decode(data instanceof ArrayBuffer ? new Uint8Array(data) : data);
  } catch (err) {
    console.warn("whiteboard: undecodable frame", err);
    return [];
  }
  if (obj === null || typeof obj !== "object") return [];
  if (obj.type === "batch") return Array.isArray(obj.ops) ? obj.ops : [];
  return [obj];
}

/**
 * A rough upper bound of a message's encoded size, to keep frames under max_frame_bytes
 * without encoding twice: ints in pts cost at most 5 bytes, usually 1-3.
 * @param {object} message
 * @returns {number}
 */
export function estimateBytes(message) {
  let size = 96;
  if (message.pts) size += message.pts.length * 5;
  if (message.p) size += message.p.length * 2;
  if (message.ids) size += message.ids.length * 66;
  return size;
}
