/**
 * Follow me and bring everyone here (docs/protocol.md, "Presenting").
 *
 * As presenter, the page sends its view (`lead` `follow`) whenever it moves, at most `followHz`
 * times a second. As one of the room, it fits the presenter's view into its own screen and keeps
 * following until its user pans or zooms; a bar then says "X is presenting" with a Follow button.
 * While following, the bar says "Following X" with a Stop button.
 */
import { LIMITS } from "./limits.js";

const $ = (id) => document.getElementById(id);

/** Two views closer than this (in screen pixels, or as a zoom ratio) are the same view. */
const SAME_PX = 0.5;

/**
 * @typedef {{peer: number, name: string, color: string, x: number, y: number, w: number,
 *   h: number}} Lead
 */

export class Presenting {
  /**
   * @param {object} target
   * @param {import("./canvas.js").Surface} target.surface
   * @param {function(object): boolean} target.send  queue an ephemeral message; false offline
   * @param {function(): void} target.requestFrame
   * @param {function(string): void} target.toast
   */
  constructor(target) {
    this.surface = target.surface;
    this.send = target.send;
    this.requestFrame = target.requestFrame;
    this.toast = target.toast;
    /** @type {Lead|null} who presents now (not us) */
    this.leader = null;
    this.following = false;
    this.leading = false;
    /** @type {{x: number, y: number, zoom: number}|null} the view we set while following */
    this.applied = null;
    this.sentView = "";
    this.sentAt = -Infinity;
    this.myPeer = null;
    $("follow-action").addEventListener("click", () => {
      if (this.leading) this.stopLeading();
      else if (this.following) this.unfollow();
      else this.follow();
    });
    this.#show();
  }

  /** The welcome: who we are, and whom to follow at once. @param {object} welcome */
  welcomed(welcome) {
    this.myPeer = welcome.peer;
    if (this.leading) {
      this.sentView = ""; // a new connection: say where we are again
    }
    const lead = welcome.lead;
    if (lead && typeof lead === "object" && lead.peer !== this.myPeer) {
      this.#lead({ ...lead, mode: "follow" });
    } else if (!this.leading) {
      this.leader = null;
      this.following = false;
      this.#show();
    }
  }

  /** A `lead` event. @param {object} msg */
  received(msg) {
    if (msg.peer === this.myPeer) return;
    this.#lead(msg);
  }

  /** A peer left: if it presented, following ends (the server sends `stop` too). @param {number} peer */
  left(peer) {
    if (this.leader?.peer === peer) this.#lead({ mode: "stop", peer });
  }

  #lead(msg) {
    if (msg.mode === "stop") {
      if (this.leader?.peer !== msg.peer) return;
      this.leader = null;
      this.following = false;
      this.#show();
      return;
    }
    if (![msg.x, msg.y, msg.w, msg.h].every(Number.isFinite) || !(msg.w > 0 && msg.h > 0)) return;
    if (msg.mode === "once") {
      this.#go(msg);
      this.toast(`${msg.name} brought everyone to their view.`);
      if (this.following) this.following = false; // a jump elsewhere: not following any more
      this.#show();
      return;
    }
    const newLeader = this.leader?.peer !== msg.peer;
    if (this.leading && newLeader) {
      this.leading = false; // someone else presents now
      this.toast(`${msg.name} is presenting now.`);
    }
    this.leader = { peer: msg.peer, name: msg.name, color: msg.color, x: msg.x, y: msg.y, w: msg.w, h: msg.h };
    if (newLeader) this.following = true; // a new presentation: everyone follows at first
    if (this.following) this.#go(this.leader);
    this.#show();
  }

  /** Follow the presenter again (the bar's Follow button). */
  follow() {
    if (!this.leader) return;
    this.following = true;
    this.#go(this.leader);
    this.#show();
  }

  /** Stop following (the bar's Stop button, or the user moved the view). */
  unfollow() {
    this.following = false;
    this.applied = null;
    this.#show();
  }

  /** Everyone follows our view from now on ("Follow me"). */
  startLeading() {
    this.leading = true;
    this.following = false;
    this.leader = null;
    this.sentView = "";
    this.#show();
    this.requestFrame();
  }

  stopLeading() {
    if (!this.leading) return;
    this.leading = false;
    this.send({ type: "lead", mode: "stop" });
    this.#show();
    this.requestFrame();
  }

  /** Everyone jumps to our view, once ("Bring everyone here"). */
  bringEveryone() {
    if (this.send({ type: "lead", mode: "once", ...this.#rect() })) {
      this.toast("Everyone was brought to your view.");
    } else {
      this.toast("Not connected: nobody could be brought here.");
    }
  }

  /**
   * Once per frame, before the session's frame is sent: a presenter sends its view when it
   * moved (at most followHz a second); a follower whose user moved the view stops following.
   * @param {number} now  performance.now()
   * @returns {boolean} true when a send is still due (ask for another frame)
   */
  beforeFrame(now) {
    const view = this.surface.view;
    if (this.following && this.applied && !sameView(view, this.applied)) this.unfollow();
    if (!this.leading) return false;
    const rect = this.#rect();
    const key = `${rect.x},${rect.y},${rect.w},${rect.h}`;
    if (key === this.sentView) return false;
    if (now - this.sentAt < 1000 / LIMITS.followHz) return true;
    if (this.send({ type: "lead", mode: "follow", ...rect })) {
      this.sentView = key;
      this.sentAt = now;
    }
    return false;
  }

  /** The window was resized: a follower fits the presenter's view again. */
  resized() {
    if (this.following && this.leader) this.#go(this.leader);
  }

  /** Our view as the rectangle of board the screen shows. */
  #rect() {
    const { x, y, zoom } = this.surface.view;
    const round = (v) => Math.round(v * 100) / 100;
    return {
      x: round(x), y: round(y),
      w: round(this.surface.width / zoom), h: round(this.surface.height / zoom),
    };
  }

  /** Fit `rect` into our screen, centred. */
  #go(rect) {
    const { width, height } = this.surface;
    const zoom = Math.min(width / rect.w, height / rect.h);
    this.surface.setView({
      x: rect.x + rect.w / 2 - width / 2 / zoom,
      y: rect.y + rect.h / 2 - height / 2 / zoom,
      zoom,
    });
    this.applied = { ...this.surface.view };
    this.requestFrame();
  }

  /** The bar: "You are presenting — Stop", "Following X — Stop", "X is presenting — Follow". */
  #show() {
    const bar = $("follow-bar");
    const text = $("follow-text");
    const action = $("follow-action");
    if (this.leading) {
      text.textContent = "You are presenting: everyone follows your view";
      action.textContent = "Stop";
    } else if (this.leader && this.following) {
      text.textContent = `Following ${this.leader.name}`;
      action.textContent = "Stop";
    } else if (this.leader) {
      text.textContent = `${this.leader.name} is presenting`;
      action.textContent = "Follow";
    }
    bar.hidden = !this.leading && !this.leader;
    bar.dataset.state = this.leading ? "leading" : this.following ? "following" : "free";
    if (this.leader) bar.style.setProperty("--leader", this.leader.color);
    $("follow-me-label").textContent = this.leading ? "Stop presenting" : "Follow me (present)";
  }
}

function sameView(a, b) {
  const zoom = Math.max(a.zoom, b.zoom);
  return Math.abs(a.x - b.x) * zoom < SAME_PX && Math.abs(a.y - b.y) * zoom < SAME_PX
    && Math.abs(a.zoom / b.zoom - 1) < 1e-6;
}
