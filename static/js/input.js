/**
 * Pointer, wheel and keyboard input on the canvas. Mouse, touch and pen all arrive as pointer
 * events: one finger (or the mouse, or a pen) uses the current tool; two fingers pan and
 * pinch-zoom; space+drag, the middle button and the hand tool pan; the wheel zooms toward the
 * pointer. Coalesced events give the full sample rate where the browser offers them (secure
 * contexts only); elsewhere each pointermove is one sample.
 */

/**
 * @typedef {object} InputTarget  what input drives (main.js)
 * @property {HTMLCanvasElement} canvas
 * @property {import("./canvas.js").Surface} surface
 * @property {import("./session.js").Session} session
 * @property {function(): object} tool  current tool module
 * @property {object} app  the ToolApp handed to tools
 * @property {function(): void} requestFrame
 * @property {function(string): void} shortcut  "undo", "redo", "pen", "help", ...
 * @property {function(): boolean} dismiss  closes an open panel; true if one was open, and then
 *   the pointer that went down is ignored (it must not draw on everyone's board)
 * @property {function(): boolean} [finishEditing]  commits text being typed; true if an editor
 *   was open (the tool's press then gets `closedEditor`: that click only closed it)
 */

const TOOL_KEYS = {
  p: "pen", h: "highlighter", e: "eraser", l: "line", r: "rect", o: "ellipse", v: "select", t: "text",
  n: "note", k: "laser",
};

/**
 * Attach all input listeners.
 * @param {InputTarget} target
 */
export function attachInput(target) {
  const { canvas, surface, session } = target;
  /** @type {Map<number, {mode: string, type: string, sx: number, sy: number, tool: object|null}>} */
  const pointers = new Map();
  let spaceDown = false;
  /** @type {{dist: number, mx: number, my: number}|null} */
  let pinch = null;

  const local = (ev) => {
    const rect = canvas.getBoundingClientRect();
    return [ev.clientX - rect.left, ev.clientY - rect.top];
  };
  const sample = (ev) => {
    const [sx, sy] = local(ev);
    const [x, y] = surface.toBoard(sx, sy);
    const pressure = ev.pointerType === "pen" ? (ev.pressure > 0 ? ev.pressure : 0.5) : null;
    // `t` is when the input happened, not when this busy page got to it (a double tap on a big
    // board must not depend on how long the main thread took between the two taps).
    return { id: ev.pointerId, type: ev.pointerType, x, y, sx, sy, pressure, shift: ev.shiftKey, alt: ev.altKey, t: ev.timeStamp };
  };
  const touches = () => [...pointers.values()].filter((p) => p.type === "touch" && p.mode !== "ignored");

  canvas.addEventListener("pointerdown", (ev) => {
    if (ev.button === 2) return;
    ev.preventDefault();
    // Known here, in this event, not from a flag a timer clears: input is dispatched before
    // timers, so text+Escape, N and a quick click would find such a flag still set.
    const closedEditor = target.finishEditing?.() ?? false;
    if (document.activeElement instanceof HTMLElement && document.activeElement !== document.body) {
      document.activeElement.blur(); // keyboard shortcuts work again once the canvas is used
    }
    canvas.setPointerCapture?.(ev.pointerId);
    const [sx, sy] = local(ev);
    const state = { mode: "tool", type: ev.pointerType, sx, sy, tool: null };
    if (target.dismiss()) {
      state.mode = "ignored";
      pointers.set(ev.pointerId, state);
      return;
    }
    if (ev.pointerType === "touch") {
      const active = touches();
      if (active.length >= 2) {
        state.mode = "ignored";
      } else if (active.length === 1) {
        // A second finger: the gesture becomes pan + pinch; the first finger's stroke is aborted
        // (removed here and, via `abort`, for everyone who saw it grow).
        const first = active[0];
        const firstId = [...pointers].find(([, p]) => p === first)[0];
        if (first.mode === "tool" && first.tool) first.tool.cancel(target.app, { id: firstId, type: "touch", x: 0, y: 0, sx: first.sx, sy: first.sy, pressure: null });
        first.mode = "pinch";
        state.mode = "pinch";
        pointers.set(ev.pointerId, state);
        pinch = pinchState(touches());
        session.setCursor(null, null);
        target.requestFrame();
        return;
      }
    }
    if (state.mode === "tool" && (ev.button === 1 || spaceDown)) state.mode = "pan";
    pointers.set(ev.pointerId, state);
    if (state.mode === "tool") {
      state.tool = target.tool();
      state.tool.press(target.app, { ...sample(ev), closedEditor });
      if (state.tool.name !== "hand") canvas.classList.add("drawing");
    }
    if (state.mode === "pan" || target.tool().name === "hand") canvas.style.cursor = "grabbing";
    const s = sample(ev);
    session.setCursor(s.x, s.y);
    target.requestFrame();
  });

  canvas.addEventListener("pointermove", (ev) => {
    const state = pointers.get(ev.pointerId);
    const s = sample(ev);
    if (ev.pointerType !== "touch" || state?.mode === "tool") session.setCursor(s.x, s.y);
    if (!state) {
      target.requestFrame();
      return;
    }
    if (state.mode === "tool") {
      const events = typeof ev.getCoalescedEvents === "function" ? ev.getCoalescedEvents() : [];
      for (const e of events.length ? events : [ev]) state.tool.move(target.app, sample(e));
    } else if (state.mode === "pan") {
      surface.panBy(s.sx - state.sx, s.sy - state.sy);
    } else if (state.mode === "pinch") {
      state.sx = s.sx;
      state.sy = s.sy;
      const next = pinchState(touches());
      if (pinch && next) {
        surface.panBy(next.mx - pinch.mx, next.my - pinch.my);
        if (pinch.dist > 0 && next.dist > 0) surface.zoomAt(next.dist / pinch.dist, next.mx, next.my);
      }
      pinch = next;
    }
    state.sx = s.sx;
    state.sy = s.sy;
    target.requestFrame();
  });

  const finish = (ev, cancelled) => {
    const state = pointers.get(ev.pointerId);
    if (!state) return;
    pointers.delete(ev.pointerId);
    if (state.mode === "tool" && state.tool) {
      if (cancelled) state.tool.cancel(target.app, sample(ev));
      else state.tool.release(target.app, sample(ev));
    }
    if (state.mode === "pinch") {
      // The other finger stays down but neither draws nor pans until it lifts.
      for (const p of pointers.values()) if (p.mode === "pinch") p.mode = "ignored";
      pinch = null;
    }
    if (ev.pointerType === "touch") session.setCursor(null, null);
    canvas.classList.remove("drawing");
    canvas.style.cursor = spaceDown ? "grab" : target.tool().cursor;
    target.requestFrame();
  };
  canvas.addEventListener("pointerup", (ev) => finish(ev, false));
  canvas.addEventListener("pointercancel", (ev) => finish(ev, true));
  canvas.addEventListener("pointerleave", (ev) => {
    if (ev.pointerType !== "touch" && !pointers.has(ev.pointerId)) {
      session.setCursor(null, null);
      target.requestFrame();
    }
  });

  canvas.addEventListener("wheel", (ev) => {
    ev.preventDefault();
    const [sx, sy] = local(ev);
    const unit = ev.deltaMode === 1 ? 16 : ev.deltaMode === 2 ? surface.height : 1;
    const dy = ev.deltaY * unit;
    // Trackpad pinches arrive as ctrl+wheel with small deltas: zoom faster per unit.
    const factor = Math.exp(-dy * (ev.ctrlKey ? 0.01 : 0.0015));
    surface.zoomAt(factor, sx, sy);
    target.requestFrame();
  }, { passive: false });

  // Safari's own pinch-zoom and double-tap zoom of the page.
  for (const type of ["gesturestart", "gesturechange", "dblclick"]) {
    document.addEventListener(type, (ev) => ev.preventDefault(), { passive: false });
  }
  canvas.addEventListener("contextmenu", (ev) => ev.preventDefault());

  window.addEventListener("keydown", (ev) => {
    const typing = ev.target instanceof HTMLInputElement || ev.target instanceof HTMLTextAreaElement;
    if (ev.key === "Escape") {
      target.shortcut("escape");
      return;
    }
    if (typing) return;
    const mod = ev.ctrlKey || ev.metaKey;
    const key = ev.key.toLowerCase();
    if (target.elementKey?.(ev)) {
      ev.preventDefault();
    } else if (mod && key === "z") {
      ev.preventDefault();
      target.shortcut(ev.shiftKey ? "redo" : "undo");
    } else if (mod && key === "y") {
      ev.preventDefault();
      target.shortcut("redo");
    } else if (ev.key === " " && !ev.repeat) {
      ev.preventDefault();
      spaceDown = true;
      canvas.style.cursor = "grab";
    } else if (!mod && !ev.altKey && TOOL_KEYS[key]) {
      target.shortcut(TOOL_KEYS[key]);
    } else if (!mod && (ev.key === "+" || ev.key === "=")) {
      target.shortcut("zoom-in");
    } else if (!mod && ev.key === "-") {
      target.shortcut("zoom-out");
    } else if (!mod && ev.key === "0") {
      target.shortcut("zoom-reset");
    } else if (ev.shiftKey && ev.key === "!") {
      target.shortcut("zoom-fit");
    } else if (!mod && ev.key === "?") {
      target.shortcut("help");
    }
  });
  window.addEventListener("keyup", (ev) => {
    if (ev.key === " ") {
      spaceDown = false;
      canvas.style.cursor = target.tool().cursor;
    }
  });
  window.addEventListener("blur", () => { spaceDown = false; });
}

function pinchState(active) {
  if (active.length < 2) return null;
  const [a, b] = active;
  return { dist: Math.hypot(a.sx - b.sx, a.sy - b.sy), mx: (a.sx + b.sx) / 2, my: (a.sy + b.sy) / 2 };
}
