/**
 * The home page: a new board, a board by name, and the boards this browser has opened (from
 * localStorage through recent.js; the server lists nothing).
 */
import { BOARD_NAME_PATTERN, suggestBoardName } from "./boardname.js";
import { ago, forgetBoard, loadThumbnail, recentBoards } from "./recent.js";

const $ = (id) => document.getElementById(id);

function renderRecent() {
  const list = $("recent-list");
  list.replaceChildren();
  const boards = recentBoards();
  $("recent-empty").hidden = boards.length > 0;
  for (const board of boards) {
    const item = document.createElement("li");
    item.className = "board-card";
    item.dataset.key = board.key;
    const link = document.createElement("a");
    link.href = board.path;
    link.className = "open-board";
    const thumb = loadThumbnail(board.key);
    const picture = document.createElement(thumb ? "img" : "span");
    picture.className = "thumb";
    if (thumb) {
      picture.src = thumb;
      picture.alt = "";
    }
    const title = document.createElement("span");
    title.className = "title";
    title.textContent = board.title;
    const when = document.createElement("time");
    when.className = "visited";
    when.dateTime = new Date(board.visited).toISOString();
    when.textContent = `visited ${ago(board.visited)}`;
    link.append(picture, title, when);
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.title = "Remove from this list (the board itself stays)";
    remove.setAttribute("aria-label", `Remove ${board.title} from this list`);
    remove.textContent = "×";
    remove.addEventListener("click", () => {
      forgetBoard(board.key);
      renderRecent();
    });
    item.append(link, remove);
    list.append(item);
  }
}

function wireOpenForm() {
  const form = $("open-form");
  const input = $("open-name");
  const hint = $("open-hint");
  const usual = hint.cloneNode(true).childNodes;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const name = input.value.trim();
    if (BOARD_NAME_PATTERN.test(name)) {
      location.assign(`/b/${name}`);
      return;
    }
    const suggestion = suggestBoardName(name);
    hint.replaceChildren();
    hint.classList.add("invalid");
    hint.append(name ? "A board name may only hold letters, digits, - and _ (up to 64). " : "Type a board name. ");
    if (suggestion) {
      const fix = document.createElement("button");
      fix.type = "button";
      fix.className = "link";
      fix.textContent = `Use ${suggestion}`;
      fix.addEventListener("click", () => {
        input.value = suggestion;
        input.focus();
      });
      hint.append(fix);
    }
    input.setAttribute("aria-invalid", "true");
  });
  input.addEventListener("input", () => {
    if (!hint.classList.contains("invalid")) return;
    hint.classList.remove("invalid");
    hint.replaceChildren(...[...usual].map((node) => node.cloneNode(true)));
    input.removeAttribute("aria-invalid");
  });
}

renderRecent();
wireOpenForm();
// Coming back with the Back button shows the page from the cache: refresh the times and list.
window.addEventListener("pageshow", (event) => { if (event.persisted) renderRecent(); });
