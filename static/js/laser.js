/**
 * Laser pointers: everyone's fading trails, drawn on their own canvas above the board, never on
 * the board (nothing of a trail is logged or exported). The laser tool (tools/laser.js) adds our
 * own points here and queues them for the server; peers' points arrive as `laser` events.
 */
import { COORD_SCALE } from "./protocol.js";
import { LIMITS } from "./limits.js";

/** A trail point fades out over this long. */
export const FADE_MS = 1100;
/** Own points closer than this (CSS pixels) to the last one are not sent: the trail looks the same. */
const MIN_STEP_PX = 2;
const OWN = "me";

/**
 * @typedef {{x: number, y: number, t: number}} TrailPoint  board units, performance.now()
 */

export class Lasers {
  /**
   * @param {HTMLCanvasElement} canvas  the overlay canvas (pointer-events: none)
   * @param {{toScreen: function(number, number): number[], width: number, height: number,
   *   dpr: number}} surface
   */
  constructor(canvas, surface) {
    this.canvas = canvas;
    this.surface = surface;
    /** @type {Map<number|string, TrailPoint[][]>} peer -> its trails, oldest first */
    this.trails = new Map();
    /** @type {{pts: number[], fresh: boolean}[]} own points (quanta) not sent yet, by trail */
    this.unsent = [];
    this.animating = false;
  }

  /**
   * A point of our own laser, in board units; `fresh` starts a new trail.
   * @param {number} x @param {number} y @param {boolean} fresh
   */
  own(x, y, fresh) {
    const trails = this.#trailsOf(OWN);
    const last = trails.at(-1)?.at(-1);
    if (!fresh && last) {
      const [lx, ly] = this.surface.toScreen(last.x, last.y);
      const [sx, sy] = this.surface.toScreen(x, y);
      if (Math.hypot(sx - lx, sy - ly) < MIN_STEP_PX) return;
    }
    if (fresh || trails.length === 0) trails.push([]);
    trails.at(-1).push({ x, y, t: performance.now() });
    if (fresh || this.unsent.length === 0) this.unsent.push({ pts: [], fresh });
    this.unsent.at(-1).pts.push(Math.round(x * COORD_SCALE), Math.round(y * COORD_SCALE));
    this.#animate();
  }

  /**
   * The `laser` messages to send now (main sends them once per animation frame).
   * @returns {object[]}
   */
  take() {
    const out = [];
    const max = LIMITS.maxLaserPoints * 2;
    for (const { pts, fresh } of this.unsent) {
      for (let start = 0; start < pts.length; start += max) {
        const message = { type: "laser", pts: pts.slice(start, start + max) };
        if (start === 0 && fresh) message.new = true;
        out.push(message);
      }
    }
    this.unsent = [];
    return out;
  }

  /** A peer's `laser` event. @param {{peer: number, pts: number[], new?: boolean}} msg */
  received(msg) {
    if (!Array.isArray(msg.pts) || typeof msg.peer !== "number") return;
    const trails = this.#trailsOf(msg.peer);
    if (msg.new || trails.length === 0) trails.push([]);
    const trail = trails.at(-1);
    const now = performance.now();
    for (let i = 0; i + 1 < msg.pts.length; i += 2) {
      trail.push({ x: msg.pts[i] / COORD_SCALE, y: msg.pts[i + 1] / COORD_SCALE, t: now });
    }
    this.#animate();
  }

  /** A peer left: its trail goes at once. @param {number} peer */
  forget(peer) {
    if (this.trails.delete(peer)) this.#animate();
  }

  /** @returns {number} points currently shown (for tests) */
  get shown() {
    let count = 0;
    for (const trails of this.trails.values()) for (const trail of trails) count += trail.length;
    return count;
  }

  #trailsOf(peer) {
    let trails = this.trails.get(peer);
    if (!trails) this.trails.set(peer, (trails = []));
    return trails;
  }

  #animate() {
    if (this.animating) return;
    this.animating = true;
    requestAnimationFrame(() => this.#draw());
  }

  /** Redraw every trail, fading by age; keep animating while any point is left. */
  #draw() {
    this.animating = false;
    const { canvas, surface } = this;
    const dpr = surface.dpr || 1;
    const width = Math.round(surface.width * dpr);
    const height = Math.round(surface.height * dpr);
    if (canvas.width !== width || canvas.height !== height) {
      canvas.width = width;
      canvas.height = height;
    }
    const ctx = canvas.getContext("2d");
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, surface.width, surface.height);
    const now = performance.now();
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    for (const [peer, trails] of this.trails) {
      for (const trail of trails) {
        while (trail.length && now - trail[0].t > FADE_MS) trail.shift();
      }
      const live = trails.filter((trail) => trail.length > 0);
      if (live.length === 0) {
        this.trails.delete(peer);
        continue;
      }
      this.trails.set(peer, live);
      for (const trail of live) drawTrail(ctx, trail, surface, now);
    }
    if (this.trails.size) this.#animate();
  }
}

/** Steps of fading: segments of one step are stroked as one path (see drawTrail). */
const FADE_STEPS = 12;

/**
 * One trail: a red glow whose segments fade with the age of their newer end. Segments about as
 * old as each other are stroked together: separate translucent strokes would overlap at every
 * joint (round caps) and bead the trail.
 */
function drawTrail(ctx, trail, surface, now) {
  const points = trail.map((p) => [...surface.toScreen(p.x, p.y), 1 - (now - p.t) / FADE_MS]);
  const step = (i) => Math.max(0, Math.ceil(points[i][2] * FADE_STEPS));
  let start = 0;
  for (let end = 1; end <= points.length; end++) {
    if (end < points.length && step(end) === step(start)) continue;
    const alpha = step(start) / FADE_STEPS;
    ctx.beginPath();
    const [fromX, fromY] = points[Math.max(0, start - 1)];
    ctx.moveTo(fromX, fromY);
    for (let i = start; i < end; i++) ctx.lineTo(points[i][0], points[i][1]);
    ctx.strokeStyle = `rgba(255, 40, 40, ${(alpha * 0.35).toFixed(3)})`;
    ctx.lineWidth = 12;
    ctx.stroke();
    ctx.strokeStyle = `rgba(230, 0, 0, ${alpha.toFixed(3)})`;
    ctx.lineWidth = 4;
    ctx.stroke();
    start = end;
  }
  const head = points.at(-1);
  if (head && head[2] > 0) {
    ctx.fillStyle = `rgba(255, 0, 0, ${head[2].toFixed(3)})`;
    ctx.beginPath();
    ctx.arc(head[0], head[1], 5, 0, Math.PI * 2);
    ctx.fill();
  }
}
