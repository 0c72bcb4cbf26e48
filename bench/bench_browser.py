"""Browser benchmark: how fast a real page draws a 500,000-point board, and how smooth it pans.

Runs ``python -m whiteboard serve`` as a process, builds the late-join benchmark's board through
it (10,000 freehand strokes x 50 points, ``latejoin.build_board``), then drives Debian's Chromium
(Playwright, headless, software rendering, 1280 x 800):

- **first render**: a fresh browser context (cold HTTP cache, as a first visit) navigates to the
  board at each view and waits until the board is fully drawn; median of ``--reps`` runs per
  view. "Fully drawn" is the page's own signal (``summary().drawnMs``: every op of the replay
  applied and the canvas showing all of it at full detail for the current view, see
  static/README.md); for a page without that signal (``--baseline`` of an older commit) it is
  the first animation frame at which ``seq`` reached the board's and the surface was not busy.
  Both are milliseconds since navigation start (``performance.now()`` of the page).
- **pan and zoom**: on the loaded board, a scripted gesture (Space+drag pan, wheel zoom in, wheel
  zoom out), one input event per animation frame, while the page records the intervals between
  animation frames and the long tasks (PerformanceObserver ``longtask``: main-thread tasks over
  50 ms).

``--baseline REV`` serves ``git archive REV`` from a second server on its own copy of the board
and measures it in the same run, interleaved run by run, as the reference (repeat it to compare
several revisions); ``--variant NAME=ARGS`` does the same for this tree served with other
``serve`` arguments.

    python bench/bench_browser.py                       # this tree, both views, 5 runs each
    python bench/bench_browser.py --baseline c0e1bf2    # and the old client beside it
    python bench/bench_browser.py --variant "small=--replay-frame-bytes 131072"  # a setting

On a shared machine run it while nothing else heavy runs (the CPU pressure of each run is printed).
Results go to bench/results/browser-<time>.json (git-ignored); docs/performance.md, "Browser".
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import itertools
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import msgpack
from latejoin import build_board, late_join
from playwright.sync_api import Browser, Page, sync_playwright
from procs import CLOCK_TICKS_PER_S, REPO, Server, cpu_pressure_us, wait_helpers_idle

RESULTS_DIR = Path(__file__).resolve().parent / "results"
VIEWS = {"whole": "-2300,-2300,0.17", "100%": "0,0,1", "fit": ""}
"""URL hashes; "fit": none, the page's default view (zoom to fit, picked by the server)."""
VIEWPORT = {"width": 1280, "height": 800}
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DRAWN_TIMEOUT_MS = 60_000
SNAPSHOT_TIMEOUT_S = 120.0
SNAPSHOT_POLL_S = 1.0
BOARD = "big"

# Installed before the page's own scripts. Records when the page first looked drawn by the only
# signal an old page offers (seq reached and surface not busy, checked once per animation frame),
# and when the WebSocket was created, opened and received each frame (for the breakdown).
PROBE_JS = """
(() => {
  const target = %d;
  const probe = { ws: [] };
  window.__bench = probe;
  let signalled = false; // the page sets the mark itself: no need to ask it every frame
  const check = () => {
    const mark = performance.getEntriesByName("whiteboard:drawn")[0];
    if (mark) { probe.polledDrawnMs = mark.startTime; return; }
    const w = window.__whiteboard;
    if (w && !signalled) {
      const s = w.summary();
      signalled = "drawnMs" in s.stats;
      if (!signalled && s.seq >= target && !s.busy) {
        probe.polledDrawnMs = performance.now();
        return;
      }
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
  const Native = window.WebSocket;
  class ProbedWebSocket extends Native {
    constructor(...args) {
      super(...args);
      probe.ws.push(["created", performance.now(), 0]);
      this.addEventListener("open", () => probe.ws.push(["open", performance.now(), 0]));
      this.addEventListener("message", (e) =>
        probe.ws.push(["message", performance.now(), e.data.byteLength || e.data.length]));
    }
  }
  window.WebSocket = ProbedWebSocket;
})();
"""

GESTURE_START_JS = """() => {
  const probe = window.__bench;
  probe.frames = [];
  probe.longTasks = [];
  probe.observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) probe.longTasks.push(e.duration);
  });
  probe.observer.observe({ type: "longtask" });
  let last = performance.now();
  const loop = (t) => {
    probe.frames.push(t - last);
    last = t;
    probe.raf = requestAnimationFrame(loop);
  };
  probe.raf = requestAnimationFrame(loop);
}"""
GESTURE_STOP_JS = """() => {
  const probe = window.__bench;
  cancelAnimationFrame(probe.raf);
  probe.observer.takeRecords().forEach((e) => probe.longTasks.push(e.duration));
  probe.observer.disconnect();
  return { frames: probe.frames.slice(2), longTasks: probe.longTasks };
}"""
# After the last input: how long until the page shows the whole board for the new view again.
SETTLE_JS = """(timeoutMs) => new Promise((resolve) => {
  const start = performance.now();
  const check = () => {
    const now = performance.now();
    if (!window.__whiteboard.summary().busy || now - start > timeoutMs) resolve(now - start);
    else requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
})"""
# Both signals: the page's own (absent in older pages) and the probe's.
DRAWN_JS = """() => {
  if (window.__bench.polledDrawnMs === undefined) return false;
  const drawn = window.__whiteboard.summary().stats.drawnMs;
  return drawn === undefined || drawn !== null;
}"""
NEXT_FRAME_JS = "() => new Promise((resolve) => requestAnimationFrame(() => resolve()))"
# The floor's "decoded, not drawn" page: a layer worker that takes every message and never draws,
# so the page decodes and applies the snapshot (and packs its strokes) but nothing rasterises.
NO_DRAWING_JS = """
window.Worker = class {
  postMessage() {}
  terminate() {}
  addEventListener() {}
};
"""
CAUGHT_UP_JS = "() => window.__whiteboard?.summary().stats.caughtUpMs != null"
LAYER_COMPLETE_JS = "() => window.__whiteboard.summary().stats.layerCompleteMs"
# The first picture's timeline (index.html): asked, answered, received, decoded, shown.
PICTURE_JS = """() => {
  const p = window.__whiteboardFirstPicture;
  return p && { startedMs: p.startedMs, respondedMs: p.respondedMs, receivedMs: p.receivedMs,
                decodedMs: p.decodedMs, shownMs: p.shownMs, seq: p.seq };
}"""
EMPTY_BOARD = "empty"
FLOOR_EMPTY = "floor: empty"
FLOOR_UNDRAWN = "floor: undrawn"


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="first-render runs per view and tree")
    parser.add_argument(
        "--views", default="whole,100%", help="comma-separated: whole, 100%, fit (no view named)"
    )
    parser.add_argument(
        "--baseline",
        action="append",
        default=[],
        help="also measure this git revision's client, interleaved (repeatable)",
    )
    parser.add_argument(
        "--visits", default="first,return", help="comma-separated: first (nothing cached), return"
    )
    parser.add_argument(
        "--variant",
        action="append",
        default=[],
        metavar="NAME=ARGS",
        help="also measure this tree served with these extra serve arguments (repeatable), e.g."
        " 'small-frames=--replay-frame-bytes 131072'",
    )
    parser.add_argument(
        "--cold-pictures",
        action="store_true",
        help="nudge every run's view by a hundredth of a board unit, so the server has never"
        " rendered its first picture (a view nobody opened at this seq); by default a discarded"
        " visit per view renders it first, as for every visitor after the first",
    )
    parser.add_argument(
        "--after-compaction",
        action="store_true",
        help="before each run, draw on its server's board enough small strokes for a compaction"
        " (someone drew since the last visitor) and wait until its helper processes are idle: a"
        " server that renders the views opened lately after a compaction has the run's picture"
        " ready, one that does not renders it for the visitor",
    )
    parser.add_argument(
        "--new-windows",
        action="store_true",
        help="open each run's page in a window a few CSS pixels larger than the last (1281 x 801,"
        " 1282 x 802, ...), a size no page opened before: the first visitor of that size, whose"
        " picture of a view without a hash (fit) the server has not rendered for that window; the"
        " discarded visit per view at the start is at 1280 x 800; each run waits until the"
        " server's helpers are idle (a render for the run before)",
    )
    parser.add_argument("--strokes", type=int, default=10_000)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--no-gesture", action="store_true", help="skip the pan/zoom measurement")
    parser.add_argument(
        "--floor",
        action="store_true",
        help="also measure this tree's floor, interleaved: the page on an empty board, and on the"
        " big board with nothing drawn (every op decoded and applied; signal: all applied)",
    )
    parser.add_argument("--gesture-steps", type=int, default=40, help="input events per phase")
    parser.add_argument("--screenshots", type=Path, help="save a screenshot at each drawn signal")
    parser.add_argument("--base-port", type=int, default=8870, help="ports used: base, base+1, ...")
    return parser.parse_args()


def _stat_fields(path: str) -> tuple[int, str, float] | None:
    """(ppid, name, user + system CPU seconds) from a /proc stat file; None once it is gone."""
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    name = text.split("(", 1)[1].rsplit(")", 1)[0]
    fields = text.rsplit(")", 1)[1].split()
    return int(fields[1]), name, (int(fields[11]) + int(fields[12])) / CLOCK_TICKS_PER_S


def _kind(pid: int) -> str | None:
    """Which part of the browser or server a process of ours is (None: not one to count)."""
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    # Chromium's zygote children rewrite their command line as one space-separated string.
    flags = argv.replace(b"\0", b" ").decode(errors="replace").split()
    if any("whiteboard" == a for a in flags) or any("multiprocessing" in a for a in flags):
        return "server"
    if not flags or "chrom" not in flags[0]:
        return None
    kind = next((a[len("--type=") :] for a in flags if a.startswith("--type=")), "browser")
    if kind == "utility":
        sub = next((a for a in flags if a.startswith("--utility-sub-type=")), "")
        return "network" if "network" in sub else "utility"
    return {"gpu-process": "gpu"}.get(kind, kind)


def cpu_by_part() -> dict[str, dict[str, float]]:
    """CPU seconds so far of every process this benchmark started (Chromium's and the servers'),
    by pid or pid/tid: the renderer's threads apart (its main thread is the page's, the
    DedicatedWorker threads the layer workers', the rest V8's background compiling and
    collecting, raster and I/O). A run's difference of two calls says where its CPU went."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat_fields(f"/proc/{entry}/stat")) is not None:
            parents[int(entry)] = stat[0]
    ours, me = set(), os.getpid()
    for pid in parents:
        chain, node = [], pid
        while node in parents and node not in ours and node != me and node > 1:
            chain.append(node)
            node = parents[node]
        if node == me or node in ours:
            ours.update(chain)
    parts: dict[str, dict[str, float]] = {}
    for pid in ours:
        kind = _kind(pid)
        if kind is None:
            continue
        if kind != "renderer":
            if (stat := _stat_fields(f"/proc/{pid}/stat")) is not None:
                parts.setdefault(kind, {})[str(pid)] = stat[2]
            continue
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            if (stat := _stat_fields(f"/proc/{pid}/task/{tid}/stat")) is None:
                continue
            part = (
                "page"
                if tid == str(pid)
                else "workers"
                if stat[1].startswith("DedicatedWorker")
                else "renderer other"
            )
            parts.setdefault(part, {})[f"{pid}/{tid}"] = stat[2]
    return parts


def cpu_spent(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds per part between two ``cpu_by_part`` calls."""
    return {
        part: round(sum(t - before.get(part, {}).get(key, 0.0) for key, t in spent.items()), 3)
        for part, spent in after.items()
    }


def start_server(
    label: str, root: Path, port: int, tmp: Path, extra: list[str] | None = None
) -> Server:
    argv = [sys.executable, "-m", "whiteboard", "serve", "--port", str(port), *(extra or [])]
    argv += ["--boards-dir", str(tmp / f"boards-{label}"), "--fsync", "off"]
    server = Server(label, "whiteboard", port, argv, tmp / f"server-{label}.log", cwd=root)
    server.start()
    return server


def builder_hello(root: Path, since: int | None = None) -> bytes:
    """A hello at the protocol version of the tree in ``root`` (an older server refuses others)."""
    source = (root / "whiteboard/protocol.py").read_text()
    found = re.search(r"^PROTOCOL_VERSION = (\d+)", source, re.M)
    hello = {"type": "hello", "client": "benchbuilder0123", "name": "builder", "color": "#654321"}
    if found:
        hello["v"] = int(found.group(1))
    return msgpack.packb({**hello, "since": since})


def draw_until_compaction(server: Server, root: Path, seq: int, interval: int, round_: int) -> int:
    """Draw enough 3-point strokes on the board for its server to compact it once more (it
    compacts after ``max(compact_after_ops, elements / 8)`` ops, whiteboard/server/snapshots.py),
    then wait until its helper processes are idle (the compaction, and what follows it); returns
    the board's new seq."""
    strokes = max(interval, seq // 8) + 16
    hello = builder_hello(root, since=seq)
    drawing = build_board(
        server, BOARD, strokes, 3, hello=hello, since=seq, id_prefix=f"more{round_}-"
    )
    with concurrent.futures.ThreadPoolExecutor(1) as thread:  # Playwright's loop runs in this one
        thread.submit(asyncio.run, drawing).result()
    if not wait_helpers_idle(server.proc.pid):
        print(f"{server.label}: helpers still busy after drawing", flush=True)
    return seq + strokes


def compact_after_ops(extra: list[str]) -> int:
    """The ``--compact-after-ops`` a server runs with (the setting's default unless given)."""
    if "--compact-after-ops" in extra:
        return int(extra[extra.index("--compact-after-ops") + 1])
    return 1000


async def settled_snapshot(server: Server, strokes: int, interval: int, hello: bytes) -> int | None:
    """Wait until the board's compaction caught up with its head; returns the snapshot's seq that
    a late joiner starts from (None: none, as with ``--compact-after-ops 0`` or an older tree).

    A server compacts once ``max(compact_after_ops, elements / 8)`` ops came after its last
    snapshot (whiteboard/server/snapshots.py), so a settled board's snapshot is at most that far
    behind its head, and the same in two probes in a row."""
    deadline = time.monotonic() + SNAPSHOT_TIMEOUT_S
    previous = None
    while True:
        snapshot = (await late_join(server, BOARD, hello))["snapshot_seq"]
        caught_up = snapshot is not None and strokes - snapshot < max(interval, strokes // 8)
        if interval == 0 or (caught_up and snapshot == previous):
            return snapshot
        if time.monotonic() > deadline:
            print(f"{server.label}: no settled snapshot after {SNAPSHOT_TIMEOUT_S} s", flush=True)
            return snapshot
        previous = snapshot
        await asyncio.sleep(SNAPSHOT_POLL_S)


def view_url(port: int, board: str, hash_: str) -> str:
    """The board's page at the view ``hash_`` names (``x,y,zoom``), or its default view ("")."""
    return f"http://127.0.0.1:{port}/b/{board}" + (f"#{hash_}" if hash_ else "")


def export_tree(rev: str, tmp: Path) -> Path:
    root = tmp / f"tree-{rev}"
    root.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive, check=True)
    return root


def first_render(
    browser: Browser,
    url: str,
    seq: int,
    shot: Path | None,
    visit: str,
    drawing: bool = True,
    viewport: dict[str, int] = VIEWPORT,
) -> dict:
    """One navigation in a fresh context; returns the drawn time and where it went.

    ``first``: the context has never seen the site (nothing cached). ``return``: it opened the
    board once before, in a page since closed (static files and compiled code cached, as for
    someone coming back to a board). Without ``drawing`` the layer worker draws nothing and the
    signal is the frame at which every op was applied (``stats.caughtUpMs``).
    """
    context = browser.new_context(viewport=viewport)
    signal_js = DRAWN_JS if drawing else CAUGHT_UP_JS
    # summary() lists every element: asked each frame, it would take the page's thread from the
    # decoding it measures (the page records the frame itself, so polling does not delay it).
    polling = "raf" if drawing else 50
    if not drawing:
        context.add_init_script(NO_DRAWING_JS)
    try:
        if visit == "return":
            earlier = context.new_page()
            earlier.add_init_script(PROBE_JS % seq)
            earlier.goto(url)
            earlier.wait_for_function(signal_js, timeout=DRAWN_TIMEOUT_MS, polling=polling)
            earlier.close()
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.add_init_script(PROBE_JS % seq)
        cpu0 = cpu_by_part()
        pressure0 = cpu_pressure_us()
        wall0 = time.monotonic()
        page.goto(url)
        page.wait_for_function(signal_js, timeout=DRAWN_TIMEOUT_MS, polling=polling)
        wall_s = time.monotonic() - wall0
        cpu = cpu_spent(cpu0, cpu_by_part())
        result = page.evaluate(
            """() => {
              const s = window.__whiteboard.summary();
              const nav = performance.getEntriesByType("navigation")[0];
              return {
                drawnMs: s.stats.drawnMs ?? null, polledDrawnMs: window.__bench.polledDrawnMs,
                ws: window.__bench.ws,
                domContentLoadedMs: nav.domContentLoadedEventStart,
                resources: performance.getEntriesByType("resource").length,
                strokes: s.strokes, stats: s.stats,
              };
            }"""
        )
        if shot is not None:
            page.screenshot(path=shot)
        if drawing and "layerCompleteMs" in result["stats"]:
            # Shown by the server's first picture: when did the page's own drawing complete?
            page.wait_for_function(LAYER_COMPLETE_JS, timeout=DRAWN_TIMEOUT_MS, polling=50)
            result["atSignal"] = result["stats"]
            result["stats"] = page.evaluate("() => window.__whiteboard.summary().stats")
            result["picture"] = page.evaluate(PICTURE_JS)
        if errors:
            raise RuntimeError(f"page errors: {errors}")
        result["pressure"] = (cpu_pressure_us() - pressure0) / 1e6 / wall_s
        result["cpu"], result["wallS"] = cpu, wall_s
        result["signalMs"] = (
            result["stats"]["caughtUpMs"]
            if not drawing
            else result["drawnMs"]
            if result["drawnMs"] is not None
            else result["polledDrawnMs"]
        )
        return result
    finally:
        context.close()


def gesture(page: Page, steps: int) -> dict:
    """Pan with Space+drag, then wheel-zoom in and out, one input event per animation frame."""
    page.mouse.move(900, 450)
    page.evaluate(GESTURE_START_JS)
    page.keyboard.down(" ")
    page.mouse.down()
    for step in range(1, steps + 1):
        page.mouse.move(900 - step * 10, 450 - step * 4)
        page.evaluate(NEXT_FRAME_JS)
    page.mouse.up()
    page.keyboard.up(" ")
    for delta in (-40, 40):
        for _ in range(steps):
            page.mouse.wheel(0, delta)
            page.evaluate(NEXT_FRAME_JS)
    settle_ms = page.evaluate(SETTLE_JS, DRAWN_TIMEOUT_MS)
    recorded = page.evaluate(GESTURE_STOP_JS)
    recorded["settleMs"] = settle_ms
    return recorded


def pan_zoom(browser: Browser, url: str, seq: int, steps: int) -> dict:
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.add_init_script(PROBE_JS % seq)
        page.goto(url)
        page.wait_for_function(DRAWN_JS, timeout=DRAWN_TIMEOUT_MS)
        pressure0 = cpu_pressure_us()
        wall0 = time.monotonic()
        recorded = gesture(page, steps)
        recorded["pressure"] = (cpu_pressure_us() - pressure0) / 1e6 / (time.monotonic() - wall0)
        return recorded
    finally:
        context.close()


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def replay_start(run: dict) -> float:
    """When the first replay frame (the first big message) reached the page's socket."""
    return next((t for kind, t, size in run["ws"] if kind == "message" and size > 10_000), 0.0)


def breakdown(run: dict) -> str:
    """Where a run's time went: the probe's socket events (any page), the page's own stats."""
    events = run["ws"]
    created = next((t for kind, t, _ in events if kind == "created"), float("nan"))
    opened = next((t for kind, t, _ in events if kind == "open"), float("nan"))
    big = [t for kind, t, size in events if kind == "message" and size > 10_000]
    first, last = (big[0], big[-1]) if big else (float("nan"), float("nan"))
    text = f"socket {created:.0f}, open {opened:.0f}, replay frames {first:.0f}..{last:.0f}"
    stats = {k: float("nan") if v is None else v for k, v in run["stats"].items()}
    if run["drawnMs"] is not None:
        if run.get("picture"):  # a page with the server's first picture
            timeline = "/".join(
                f"{run['picture'][k] or float('nan'):.0f}"
                for k in ("startedMs", "respondedMs", "receivedMs", "decodedMs", "shownMs")
            )
            text += (
                f", server picture asked/answered/received/decoded/shown {timeline}"
                f", own layer complete {stats['layerCompleteMs']:.0f}"
            )
        text += (
            f", layer ready {stats.get('layerReadyMs', float('nan')):.0f}"
            f", all applied {stats['caughtUpMs']:.0f}, first picture {stats['firstPictureMs']:.0f}"
            f", layer done {stats.get('lastSnapshotMs', float('nan')):.0f}"
            f" ({stats['renderer']} x{stats.get('bands', 1)}, last job"
            f" {stats['lastRebuildMs']:.0f} ms)"
        )
    elif run["stats"]["caughtUpMs"] is not None:
        text += f", all applied {stats['caughtUpMs']:.0f} (nothing drawn)"
    text += f", signal {run['signalMs']:.0f}"
    return text + f"; CPU {cpu_text(run['cpu'])} in {run['wallS']:.2f} s"


CPU_PARTS = ("page", "workers", "renderer other", "browser", "network", "gpu", "server")


def cpu_text(cpu: dict[str, float]) -> str:
    """CPU seconds by part, largest parts named, and their total."""
    named = " ".join(f"{part} {cpu.get(part, 0.0):.2f}" for part in CPU_PARTS)
    return f"{sum(cpu.values()):.2f} s ({named})"


def main() -> None:
    args = parse_args()
    views = [v.strip() for v in args.views.split(",")]
    visits = [v.strip() for v in args.visits.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="bench-browser-"))
    trees = {"this tree": REPO}
    extra_args: dict[str, list[str]] = {}
    for variant in args.variant:
        name, _, serve_args = variant.partition("=")
        trees[f"this tree {name}"] = REPO
        extra_args[f"this tree {name}"] = serve_args.split()
    for rev in args.baseline:
        trees[f"baseline {rev}"] = export_tree(rev, tmp)
    servers: dict[str, Server] = {}
    results: dict = {"args": {k: str(v) for k, v in vars(args).items()}, "runs": [], "gestures": []}
    try:
        for index, (label, root) in enumerate(trees.items()):
            port = args.base_port + index
            servers[label] = start_server(f"t{index}", root, port, tmp, extra_args.get(label))
            hello = builder_hello(root)
            built = asyncio.run(
                build_board(servers[label], BOARD, args.strokes, args.points, hello=hello)
            )
            interval = compact_after_ops(extra_args.get(label, []))
            snapshot = asyncio.run(settled_snapshot(servers[label], args.strokes, interval, hello))
            results.setdefault("snapshots", {})[label] = snapshot
            print(
                f"{label}: board built in {built['build_s']:.1f} s; a late joiner starts from "
                + (f"the snapshot at seq {snapshot}" if snapshot else "the log (no snapshot)"),
                flush=True,
            )
        seqs = dict.fromkeys(servers, args.strokes)
        rounds = itertools.count()
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
            runs = list(servers.items())
            if args.floor:
                ours = servers["this tree"]
                runs += [(FLOOR_EMPTY, ours), (FLOOR_UNDRAWN, ours)]
            nudges = itertools.count(1)
            grown = itertools.count(1)  # --new-windows: CSS pixels added to each side
            if not args.cold_pictures:  # the first visit of each view has its picture rendered
                for view, server in itertools.product(views, servers.values()):
                    url = view_url(server.port, BOARD, VIEWS[view])
                    first_render(browser, url, args.strokes, None, "first")
                for server in servers.values():  # the page may be drawn before its picture
                    if not wait_helpers_idle(server.proc.pid):
                        print(f"{server.label}: helpers still busy after the first visits")
            for view, visit, rep in itertools.product(views, visits, range(args.reps)):
                for label, server in runs:
                    board = EMPTY_BOARD if label == FLOOR_EMPTY else BOARD
                    hash_ = VIEWS[view]
                    if args.cold_pictures and hash_:
                        x, y, zoom = (float(v) for v in hash_.split(","))
                        hash_ = f"{x + next(nudges) / 100!r},{y!r},{zoom!r}"
                    url = view_url(server.port, board, hash_)
                    shot = None
                    if args.screenshots:
                        args.screenshots.mkdir(parents=True, exist_ok=True)
                        name = f"{label.replace(' ', '-')}-{view.rstrip('%')}-{visit}-{rep}.png"
                        shot = args.screenshots / name
                    if args.after_compaction and label in servers:
                        interval = compact_after_ops(extra_args.get(label, []))
                        seqs[label] = draw_until_compaction(
                            server, trees[label], seqs[label], interval, next(rounds)
                        )
                    target = 0 if label == FLOOR_EMPTY else seqs.get(label, args.strokes)
                    drawing = label != FLOOR_UNDRAWN
                    viewport = VIEWPORT
                    if args.new_windows:
                        extra = next(grown)
                        viewport = {k: v + extra for k, v in VIEWPORT.items()}
                        if label in servers and not wait_helpers_idle(server.proc.pid):
                            print(f"{label}: helpers still busy (the last run's picture?)")
                    run = first_render(browser, url, target, shot, visit, drawing, viewport)
                    run.update(tree=label, view=view, visit=visit, rep=rep, viewport=viewport)
                    results["runs"].append(run)
                    print(
                        f"{label:>16} {view:>5} {visit:>6} #{rep}: {breakdown(run)}; "
                        f"pressure {run['pressure']:.2f}",
                        flush=True,
                    )
            if not args.no_gesture:
                for view in views:
                    for label, server in servers.items():
                        url = view_url(server.port, BOARD, VIEWS[view])
                        recorded = pan_zoom(browser, url, seqs[label], args.gesture_steps)
                        recorded.update(tree=label, view=view)
                        results["gestures"].append(recorded)
            browser.close()
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(results, views, visits, list(trees) + ([FLOOR_EMPTY, FLOOR_UNDRAWN] * args.floor))
    RESULTS_DIR.mkdir(exist_ok=True)
    out = RESULTS_DIR / f"browser-{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"results: {out.relative_to(REPO)}")


def report(results: dict, views: list[str], visits: list[str], labels: list[str]) -> None:
    print("\nfirst render, ms from navigation to fully drawn (median [min-max]), CPU pressure;")
    print("  and from the first replay frame to drawn (the page's own share);")
    print("  CPU seconds from navigation to drawn, by part (on 2 cores, wall >= total / 2)")
    for view, visit, label in itertools.product(views, visits, labels):
        runs = [
            r
            for r in results["runs"]
            if r["view"] == view and r["visit"] == visit and r["tree"] == label
        ]
        if not runs:
            continue
        times = [r["signalMs"] for r in runs]
        own = [r["signalMs"] - replay_start(r) for r in runs]
        pressure = statistics.median(r["pressure"] for r in runs)
        cpu = {part: statistics.median(r["cpu"].get(part, 0.0) for r in runs) for part in CPU_PARTS}
        print(
            f"  {view:>5} {visit:>6} {label:>16}: {statistics.median(times):6.0f} "
            f"[{min(times):.0f}-{max(times):.0f}]  own {statistics.median(own):4.0f} "
            f"[{min(own):.0f}-{max(own):.0f}]  pressure {pressure:.2f}\n"
            f"  {'':>30}CPU medians {cpu_text(cpu)}"
        )
        pictured = [r for r in runs if r["stats"].get("firstPictureShownMs") is not None]
        layer = [r["stats"]["layerCompleteMs"] for r in runs if r["stats"].get("layerCompleteMs")]
        if layer:
            print(
                f"  {'':>30}first picture in {len(pictured)} of {len(runs)} runs; the page's own"
                f" layer complete {statistics.median(layer):.0f}"
                f" [{min(layer):.0f}-{max(layer):.0f}]"
            )
    if results["gestures"]:
        print(
            "\npan + zoom: frame interval p50 / p95 / max ms, long tasks (count, max ms),"
            " complete again after the last input (ms)"
        )
        for g in results["gestures"]:
            frames, tasks = g["frames"], g["longTasks"]
            print(
                f"  {g['view']:>5} {g['tree']:>20}: {percentile(frames, 0.5):5.1f} / "
                f"{percentile(frames, 0.95):5.1f} / {max(frames):6.1f}  "
                f"long tasks {len(tasks)}, max {max(tasks, default=0):.0f}  "
                f"settled {g['settleMs']:.0f}  pressure {g['pressure']:.2f}"
            )


if __name__ == "__main__":
    main()
