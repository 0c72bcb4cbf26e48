"""The first picture a board page shows (``/b/<id>/view.png``, ``/v/<token>/view.png``): the PNG
export of the view its URL names, rendered by the export worker (``http.py``) and shown by
``index.html``'s inline script until the page has drawn the board itself.

A big board's view costs the export worker 0.3-0.5 s of CPU, so a picture rendered only when a
visitor asks for it comes after the page's own drawing (docs/performance.md, "Browser"). So:

- the views pages asked for lately are remembered (``first_picture_views``, least recently asked
  forgotten first, over all boards), each with its newest picture;
- after each compaction of a board (``Compactor.snapshot_listeners``) its remembered views are
  rendered at the board's head, one after another, so that the next visitor finds them ready;
- a request whose view has no picture at the board's current seq gets the newest picture of an
  older seq at once, a stand-in (the page shows it until its own layer is complete and does not
  count it as the board drawn), and one render at the current seq starts behind it;
- windows whose sides round down to the same multiple of ``FIT_WINDOW_STEP_PX`` share the
  picture of a view without a hash (``fit``): each page crops it to its own window
  (``Frame.page_view``), so a new visitor's window rarely costs a render of its own;
- at most one picture per board is rendered at a time. An audience joining a board that is being
  drawn on (a new seq with every stroke) would otherwise start a full render per visitor. A
  request for a view with no picture at all, while another view of its board is being rendered,
  gets 204 (the page draws the board itself), and its view is rendered next.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from quart import Response, request

from .cache import Cached
from .frame import ExportOptions
from .http import ENTERED, Exporter, request_options
from .renders import SharedRender
from .responses import nothing

log = logging.getLogger(__name__)


@dataclass(slots=True, eq=False)
class View:
    """A view pages opened a board at, and its newest picture (of any seq)."""

    board_id: str
    options: ExportOptions
    newest: Cached | None = None

    def keep(self, entry: Cached) -> None:
        if self.newest is None or entry.result.seq >= self.newest.result.seq:
            self.newest = entry


@dataclass(slots=True)
class BoardRenders:
    """One board's picture being rendered, and the views waiting to be rendered after it."""

    rendering: View | None = None
    shared: SharedRender | None = None
    queued: list[View] = field(default_factory=list)


class FirstPictures:
    def __init__(self, exporter: Exporter, max_views: int) -> None:
        self.exporter = exporter
        self.max_views = max_views
        self._views: OrderedDict[tuple[str, str], View] = OrderedDict()
        self._boards: dict[str, BoardRenders] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.rendered = 0  # renders started here, by requests or ahead of them (tests, bench)

    async def respond(self, board_id: str, name: str) -> Response:
        """The picture of the view this request names: current, a stand-in, or 204."""
        request.scope.get(ENTERED, nothing)()  # the next request may enter (ExportGate)
        options = request_options("png")
        if isinstance(options, Response):
            return options
        window = None if options.fit is None else options.fit[:2]
        view = self._remember(board_id, options.shared_fit())  # nearby windows: one picture

        async def send(entry: Cached) -> Response:
            return await self.exporter.sender.send(name, "png", entry, window)

        current = self._current(view)
        if current is not None:
            return await send(current)
        renders = self._boards.get(board_id)
        if renders is None or renders.rendering is None:  # nothing of this board rendering
            if view.newest is not None:  # a stand-in, while the current seq renders behind it
                self._start(view, None)
                return await send(view.newest)
            started = self._start(view, request.remote_addr or "-")
            if isinstance(started, Response):
                return started
            return await self._wait(view, started, send)
        if renders.rendering is view:
            if view.newest is not None:
                return await send(view.newest)
            return await self._wait(view, renders.shared, send)
        if view not in renders.queued:  # rendered once this board's picture in progress is
            renders.queued.append(view)
        if view.newest is not None:
            return await send(view.newest)
        return Response("", 204, headers={"Cache-Control": "no-store"})

    async def _wait(
        self,
        view: View,
        shared: SharedRender | None,
        send: Callable[[Cached], Awaitable[Response]],
    ) -> Response:
        assert shared is not None
        try:
            entry = await shared.wait()
        except Exception as exc:
            return self.exporter.renders.failure(view.board_id, "png", exc)
        return await send(entry)

    def snapshot_installed(self, board_id: str, seq: int) -> None:
        """A compaction of ``board_id`` finished: render its remembered views at its head."""
        views = [view for view in reversed(self._views.values()) if view.board_id == board_id]
        if not views:
            return
        renders = self._boards.setdefault(board_id, BoardRenders())
        renders.queued.extend(view for view in views if view not in renders.queued)
        if renders.rendering is None:
            self._next(board_id)

    def _remember(self, board_id: str, options: ExportOptions) -> View:
        key = (board_id, options.key())
        view = self._views.get(key)
        if view is None:
            view = self._views[key] = View(board_id, options)
            while len(self._views) > self.max_views:
                self._views.popitem(last=False)
        else:
            self._views.move_to_end(key)
        return view

    def _current(self, view: View) -> Cached | None:
        """The view's picture at the board's seq, if rendered; None when the seq is not known
        without a read (a board not loaded, its log changed since it was last rendered)."""
        exporter = self.exporter
        seq, _, _ = exporter.version(view.board_id)
        if seq is None:
            return None
        if view.newest is not None and view.newest.result.seq == seq:
            return view.newest
        entry = exporter.cache.get((view.board_id, str(seq), "png", view.options.key()))
        if entry is not None:
            view.keep(entry)
        return entry

    def _start(self, view: View, client: str | None) -> SharedRender | Response:
        """Render ``view`` at the board's current seq (the board renders nothing else meanwhile),
        for ``client`` or, None, ahead of visitors."""
        exporter = self.exporter
        path = exporter.log_path(view.board_id)
        _, upto, version = exporter.version(view.board_id)
        key = (view.board_id, version, "png", view.options.key())
        shared = exporter.renders.in_progress(key)
        if shared is None:
            started = exporter.begin(key, client, "png", view.options, path, upto)
            if isinstance(started, Response):
                return started
            shared = started
            self.rendered += 1
        renders = self._boards.setdefault(view.board_id, BoardRenders())
        renders.rendering, renders.shared = view, shared
        if view in renders.queued:
            renders.queued.remove(view)
        task = asyncio.ensure_future(self._finish(view, shared))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return shared

    async def _finish(self, view: View, shared: SharedRender) -> None:
        try:
            view.keep(await shared.wait())
        except Exception as exc:  # its requests, if any, were told; a render ahead was not
            log.info("first picture of board %s not rendered: %r", view.board_id, exc)
        renders = self._boards.get(view.board_id)
        if renders is not None and renders.rendering is view:
            renders.rendering = renders.shared = None
            self._next(view.board_id)

    def _next(self, board_id: str) -> None:
        """Render the board's next queued view that has no picture at its seq yet."""
        renders = self._boards[board_id]
        while renders.queued and renders.rendering is None:
            view = renders.queued.pop(0)
            forgotten = self._views.get((view.board_id, view.options.key())) is not view
            if (
                not forgotten
                and self._current(view) is None
                and isinstance(self._start(view, None), Response)
            ):
                renders.queued.clear()  # the export queue is full: the next compaction tries
        if renders.rendering is None:
            del self._boards[board_id]
