/**
 * Who this browser is: a secret client id (owns strokes and undo across reloads), a generated
 * display name with its colour ("Blue Otter"), both kept in localStorage.
 */
import { LIMITS } from "./limits.js";
import { newId } from "./protocol.js";

const KEY = "whiteboard.identity";

/** Colour words and their colours: the name says which colour the cursor has. */
const COLOURS = [
  ["Red", "#e53935"], ["Orange", "#f4511e"], ["Amber", "#ffa000"], ["Green", "#43a047"],
  ["Teal", "#00897b"], ["Cyan", "#00acc1"], ["Blue", "#1e88e5"], ["Indigo", "#3949ab"],
  ["Purple", "#8e24aa"], ["Pink", "#d81b60"], ["Brown", "#6d4c41"], ["Slate", "#546e7a"],
];
const ANIMALS = [
  "Otter", "Fox", "Panda", "Heron", "Lynx", "Koala", "Falcon", "Badger", "Dolphin", "Gecko",
  "Hedgehog", "Ibis", "Jaguar", "Lemur", "Marten", "Narwhal", "Owl", "Puffin", "Quokka", "Raven",
  "Seal", "Tapir", "Walrus", "Yak", "Zebra", "Beaver", "Crane", "Moose", "Wombat", "Swift",
];
const NAME_FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069]/gu;

/**
 * @typedef {object} Identity
 * @property {string} client  secret random id
 * @property {string} name
 * @property {string} color  #rrggbb
 */

function pick(list) {
  return list[crypto.getRandomValues(new Uint32Array(1))[0] % list.length];
}

/**
 * A fresh generated name and colour.
 * @returns {{name: string, color: string}}
 */
export function generateName() {
  const [word, color] = pick(COLOURS);
  return { name: `${word} ${pick(ANIMALS)}`, color };
}

/**
 * Make a typed name acceptable to the server (trimmed, no control or bidi characters), or "".
 * @param {string} raw
 * @returns {string}
 */
export function cleanName(raw) {
  return String(raw).replace(NAME_FORBIDDEN, "").split(/\s+/u).filter(Boolean).join(" ")
    .slice(0, LIMITS.maxNameChars).trim();
}

/**
 * The stored identity, or a new one (stored at once, so reloads keep it).
 * @returns {Identity}
 */
export function loadIdentity() {
  let stored = null;
  try {
    stored = JSON.parse(localStorage.getItem(KEY) || "null");
  } catch {
    stored = null; // storage disabled or corrupt: a fresh identity for this page
  }
  const valid = stored && /^[A-Za-z0-9_-]{16,64}$/.test(stored.client) && cleanName(stored.name || "")
    && /^#[0-9a-f]{6}$/i.test(stored.color || "");
  const identity = valid
    ? { client: stored.client, name: cleanName(stored.name), color: stored.color.toLowerCase() }
    : { client: newId(24), ...generateName() };
  saveIdentity(identity);
  return identity;
}

/**
 * Remember the identity (best effort: private windows may refuse).
 * @param {Identity} identity
 */
export function saveIdentity(identity) {
  try {
    localStorage.setItem(KEY, JSON.stringify(identity));
  } catch {
    // nothing to do: the identity lives as long as the page
  }
}
