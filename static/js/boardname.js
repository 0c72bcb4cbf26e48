/**
 * Board names as the server accepts them (docs/protocol.md, URLs), and the nearest valid name for
 * one that is not, as `whiteboard/server/pages.py` suggests on its 404 page.
 */

/** 1-64 characters of A-Z a-z 0-9 _ - (protocol.js ID_PATTERN). */
export const BOARD_NAME_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The nearest valid board name: accents dropped (café -> cafe), every other run of characters
 * that may not appear becomes one `-` (team.retro -> team-retro), no `-` at either end.
 * @param {string} raw
 * @returns {string} "" when nothing usable is left
 */
export function suggestBoardName(raw) {
  return String(raw).normalize("NFKD").replace(/\p{M}+/gu, "")
    .replace(/[^A-Za-z0-9_-]+/g, "-").replace(/^-+|-+$/g, "").slice(0, 64).replace(/-+$/, "");
}
