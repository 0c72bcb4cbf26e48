/**
 * A msgpack decoder for the server's frames, three times faster than the vendored general one on a
 * replay (2 MB, 10,000 strokes: most of the bytes are small ints in `pts`, most strings are keys
 * and repeated values). It reads the formats the server writes: nil, booleans, ints of every
 * width, floats, strings, binary, arrays and maps. On anything else (extension types) or bad
 * bytes it throws, and protocol.js decodes that frame with the vendored decoder instead, so the
 * two always agree (tests/browser/test_unpack.py checks them against each other).
 */

/** A frame this decoder does not read: the caller falls back to the general decoder. */
export class Unsupported extends Error {}

const utf8 = new TextDecoder("utf-8", { fatal: false });
/** ASCII strings up to this many bytes are looked up in a cache (keys, tools, colours, authors). */
const CACHED_MAX_BYTES = 16;
const CACHE_SLOTS = 4096;
/** @type {string[]} ASCII strings by a hash of their bytes */
const cache = new Array(CACHE_SLOTS).fill("");

let bytes = new Uint8Array(0);
let view = new DataView(bytes.buffer);
let pos = 0;

/**
 * Decode one msgpack value.
 * @param {Uint8Array} input
 * @returns {any}
 */
export function unpack(input) {
  bytes = input;
  view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  pos = 0;
  const value = read();
  if (pos !== input.length) throw new Unsupported(`${input.length - pos} bytes after the value`);
  bytes = new Uint8Array(0);
  return value;
}

function read() {
  if (pos >= bytes.length) throw new Unsupported("truncated");
  const head = bytes[pos++];
  if (head < 0x80) return head;
  if (head >= 0xe0) return head - 0x100;
  if (head < 0x90) return readMap(head & 0x0f);
  if (head < 0xa0) return readArray(head & 0x0f);
  if (head < 0xc0) return readString(head & 0x1f);
  let value;
  switch (head) {
    case 0xc0: return null;
    case 0xc2: return false;
    case 0xc3: return true;
    case 0xcc: return bytes[pos++];
    case 0xcd: value = view.getUint16(pos); pos += 2; return value;
    case 0xce: value = view.getUint32(pos); pos += 4; return value;
    case 0xcf: value = Number(view.getBigUint64(pos)); pos += 8; return value;
    case 0xd0: value = view.getInt8(pos); pos += 1; return value;
    case 0xd1: value = view.getInt16(pos); pos += 2; return value;
    case 0xd2: value = view.getInt32(pos); pos += 4; return value;
    case 0xd3: value = Number(view.getBigInt64(pos)); pos += 8; return value;
    case 0xca: value = view.getFloat32(pos); pos += 4; return value;
    case 0xcb: value = view.getFloat64(pos); pos += 8; return value;
    case 0xd9: return readString(bytes[pos++]);
    case 0xda: value = view.getUint16(pos); pos += 2; return readString(value);
    case 0xdb: value = view.getUint32(pos); pos += 4; return readString(value);
    case 0xc4: return readBinary(bytes[pos++]);
    case 0xc5: value = view.getUint16(pos); pos += 2; return readBinary(value);
    case 0xc6: value = view.getUint32(pos); pos += 4; return readBinary(value);
    case 0xdc: value = view.getUint16(pos); pos += 2; return readArray(value);
    case 0xdd: value = view.getUint32(pos); pos += 4; return readArray(value);
    case 0xde: value = view.getUint16(pos); pos += 2; return readMap(value);
    case 0xdf: value = view.getUint32(pos); pos += 4; return readMap(value);
    default: throw new Unsupported(`type 0x${head.toString(16)}`);
  }
}

function readArray(length) {
  if (pos + length > bytes.length) throw new Unsupported("truncated");
  const out = new Array(length);
  for (let i = 0; i < length; i++) {
    const head = bytes[pos];
    // Points are runs of small ints: read them here rather than through read().
    if (head < 0x80) {
      out[i] = head;
      pos++;
    } else if (head >= 0xe0) {
      out[i] = head - 0x100;
      pos++;
    } else {
      out[i] = read();
    }
  }
  return out;
}

function readMap(size) {
  const out = {};
  for (let i = 0; i < size; i++) {
    const key = read();
    // The vendored decoder refuses these keys too: falling back to it gives its error.
    if ((typeof key !== "string" && typeof key !== "number") || key === "__proto__") {
      throw new Unsupported("map key");
    }
    out[key] = read();
  }
  return out;
}

function readBinary(length) {
  if (pos + length > bytes.length) throw new Unsupported("truncated");
  const out = bytes.slice(pos, pos + length);
  pos += length;
  return out;
}

function readString(length) {
  const end = pos + length;
  if (end > bytes.length) throw new Unsupported("truncated");
  if (length > CACHED_MAX_BYTES) {
    const text = utf8.decode(bytes.subarray(pos, end));
    pos = end;
    return text;
  }
  // Short ASCII strings (keys, tools, colours, ids) come from the cache or fromCharCode;
  // TextDecoder costs a microsecond a call.
  let hash = length;
  let ascii = true;
  for (let i = pos; i < end; i++) {
    const byte = bytes[i];
    hash = (hash * 31 + byte) | 0;
    if (byte > 0x7f) ascii = false;
  }
  if (!ascii) {
    const text = utf8.decode(bytes.subarray(pos, end));
    pos = end;
    return text;
  }
  const slot = hash & (CACHE_SLOTS - 1);
  const cached = cache[slot];
  if (cached.length === length) {
    let same = true;
    for (let i = 0; i < length; i++) {
      if (cached.charCodeAt(i) !== bytes[pos + i]) {
        same = false;
        break;
      }
    }
    if (same) {
      pos = end;
      return cached;
    }
  }
  const text = String.fromCharCode.apply(null, bytes.subarray(pos, end));
  cache[slot] = text;
  pos = end;
  return text;
}
