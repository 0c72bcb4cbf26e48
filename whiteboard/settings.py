"""Every setting, with its default and the reason for it, in one table (Datasette's ``SETTINGS``).

Each is a command-line flag (``--max-points-per-stroke``) and an environment variable
(``WHITEBOARD_MAX_POINTS_PER_STROKE``); the flag wins. ``tests/test_docs.py`` fails when one is
missing from ``docs/settings.md``. Pure: no I/O beyond reading the environment it is handed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .protocol import Limits


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    default: Any
    help: str


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "host", "127.0.0.1", "Address to listen on; 0.0.0.0 lets other devices on the LAN join."
    ),
    Setting("port", 8000, "TCP port to listen on."),
    Setting(
        "listen_backlog",
        2048,
        "Connections the kernel holds for the server before it accepts them (Hypercorn's "
        "default is 100). A talk's room opens the link within seconds while the event loop is "
        "busy; past the backlog the kernel drops their SYNs and phones retry after 1, 3, 7 s. "
        "Capped by the kernel's net.core.somaxconn (4096 on current Linux).",
    ),
    Setting(
        "accepts_per_second",
        1000,
        "Connections the server accepts per second, past a burst of accept_burst; the rest "
        "wait in the kernel's queue (listen_backlog). Setting up an HTTP connection costs the "
        "event loop ~0.3 ms and a WebSocket join ~1.2 ms, and asyncio took a whole backlog at "
        "once: 200 export requests arriving together stalled drawing on other boards for up "
        "to 47 ms. 1000 keeps such a burst to a share of the loop and admits it in 0.2 s.",
    ),
    Setting(
        "accept_burst",
        16,
        "Connections accepted at once before accepts_per_second paces the rest; the "
        "connections of one page load and a few reconnecting clients are not slowed.",
    ),
    Setting("boards_dir", "boards", "Directory holding one append-only log file per board."),
    Setting(
        "public_url",
        "",
        "Base URL used in share links and QR codes, e.g. https://wb.example.org "
        "behind a reverse proxy; empty means the URL the browser used.",
    ),
    Setting(
        "allowed_origins",
        "",
        "Comma-separated extra browser origins allowed to open the "
        "WebSocket; the server's own host and public_url are always allowed.",
    ),
    Setting(
        "allowed_hosts",
        "",
        "Comma-separated extra names the server answers to in the Host header (.example.org: "
        "it and its subdomains; *: any). IP addresses, localhost, this machine's names, --host "
        "and public_url's host are always allowed; other names get 400 (DNS rebinding).",
    ),
    Setting(
        "trusted_proxy_hops",
        0,
        "Reverse proxies in front of the server whose X-Forwarded-For / -Proto / -Host to "
        "believe: 1 behind one proxy, so per-client limits see each client's address rather "
        "than the proxy's. 0 trusts none (a client could forge them).",
    ),
    Setting(
        "fsync",
        True,
        "fsync each group commit before acknowledging it (survives power loss); "
        "off still survives a killed server process.",
    ),
    Setting(
        "tick_ms",
        4.0,
        "Minimum time between two broadcast frames to one board: ops committed "
        "within it travel together (a lone op goes out at once).",
    ),
    Setting(
        "max_frame_bytes",
        256 * 1024,
        "Largest WebSocket frame accepted; larger ones close with "
        "1009. A 20,000-point stroke is about 80 KB.",
    ),
    Setting(
        "max_points_per_stroke",
        20_000,
        "Points in one stroke (a minute of fast drawing at 240 Hz is about 15,000).",
    ),
    Setting(
        "max_strokes_per_board",
        200_000,
        "Elements (strokes, text, notes, images) one board may hold, erased ones included.",
    ),
    Setting(
        "max_board_bytes",
        64 * 1024 * 1024,
        "Disk used by one board: its log, its images and its snapshot (a snapshot only takes "
        "room the log and images leave, and is dropped when they need it).",
    ),
    Setting(
        "max_total_bytes",
        4 * 1024 * 1024 * 1024,
        "Disk used by all boards together (logs, snapshots and images), counted in whole blocks "
        "as the disk counts it; snapshots are dropped, largest first, to make room for ops.",
    ),
    Setting(
        "min_free_disk_bytes",
        32 * 1024 * 1024,
        "Free space the disk holding the boards must keep: below it writers get storage_full "
        "(and /readyz 503) before the disk is full, while reading goes on.",
    ),
    Setting("max_boards", 100_000, "Number of boards on disk; creating one more is refused."),
    Setting(
        "max_loaded_boards",
        2_000,
        "Boards held in memory at once; opening one more unloads the board idle longest, and "
        "when every one is being watched the connection closes with 4001 (try again later).",
    ),
    Setting(
        "new_boards_per_client_per_hour",
        200,
        "Boards that do not exist yet one client address may open per hour (bursts of as many; "
        "more close with 4001): one client must not fill max_boards or max_loaded_boards.",
    ),
    Setting(
        "max_connections",
        0,
        "WebSockets open at once (more get 503); 0: the open-file limit less reserved_fds and "
        "max_open_log_files, so that accepting and log writes always find a descriptor.",
    ),
    Setting(
        "reserved_fds",
        64,
        "File descriptors kept for everything but WebSockets and logs: listening sockets, "
        "HTTP requests, the event loop, export workers.",
    ),
    Setting(
        "max_open_log_files",
        64,
        "Board logs kept open between writes (the most recently written); the others are "
        "opened for each write, so loaded boards hold no descriptors.",
    ),
    Setting("max_coord", 10_000_000.0, "Largest absolute board coordinate (board units)."),
    Setting("min_width", 0.5, "Thinnest stroke width (board units)."),
    Setting("max_width", 500.0, "Widest stroke width (board units)."),
    Setting("max_name_chars", 40, "Characters in a display name."),
    Setting("max_ops_per_frame", 512, "Messages in one batch frame."),
    Setting(
        "max_erase_ids",
        10_000,
        "Element ids in one erase, transform or z op (a select-all of a big board is cut into "
        "several ops).",
    ),
    Setting(
        "max_text_chars",
        4_000,
        "Characters in one text element or note: a long paragraph; a whiteboard is not a "
        "document, and each edit sends the whole text.",
    ),
    Setting("max_text_lines", 200, "Lines in one text element or note."),
    Setting("min_text_size", 4.0, "Smallest font size of text and notes (board units)."),
    Setting("max_text_size", 400.0, "Largest font size of text and notes (board units)."),
    Setting(
        "max_element_scale",
        1_000.0,
        "How far an element may be scaled up (or down, 1 over it) by moves and resizes; "
        "translations stay within max_coord times it. Keeps coordinates finite and sane.",
    ),
    Setting(
        "max_add_items",
        1_000,
        "Elements added by one paste or duplicate (one undo step); the frame size bounds "
        "their points.",
    ),
    Setting(
        "max_live_strokes",
        10,
        "Strokes one connection may draw at once (multi-touch), text drafts and moves included.",
    ),
    Setting(
        "max_images_per_board",
        500,
        "Image files one board may hold (the same picture pasted twice is one file).",
    ),
    Setting(
        "max_upload_bytes",
        10 * 1024 * 1024,
        "Largest image upload, in bytes: a full-size phone photo is 3-8 MB.",
    ),
    Setting(
        "max_image_pixels",
        40_000_000,
        "Largest image upload in pixels (a 48 MP phone photo is refused, a 12 MP one is fine); "
        "also the decompression-bomb limit, checked before any pixel is decoded.",
    ),
    Setting(
        "max_image_side_px",
        4096,
        "Images are stored at most this many pixels wide and high (larger ones are scaled "
        "down): sharp on a 4K screen, and what a page decodes stays bounded.",
    ),
    Setting(
        "uploads_per_minute",
        30.0,
        "Sustained image uploads per minute per client address; bursts of twice that pass.",
    ),
    Setting(
        "media_grace_s",
        3600.0,
        "Seconds an uploaded image may wait for the op that places it before it is deleted "
        "as abandoned; a paste commits within a second, so an hour only spares slow links.",
    ),
    Setting(
        "max_connections_per_board",
        2000,
        "Connections to one board; more close with 4001. A talk's room of 1,000 people, some "
        "with a second device or tab, plus reconnects overlapping their old sockets.",
    ),
    Setting(
        "presence_detail_max_peers",
        50,
        "Up to this many connections on a board, every join, leave and rename is its own event "
        "and every cursor move goes out each tick; above it the room is large (summaries, "
        "cursors at cursor_hz within presence_bytes_per_second).",
    ),
    Setting(
        "cursor_hz",
        10.0,
        "In a large room, how often peers' cursor positions go out.",
    ),
    Setting(
        "presence_bytes_per_second",
        8192,
        "In a large room, bytes of cursors and presence one client receives per second at most "
        "(about 9 bytes a cursor): what a phone pays to see a crowd, whatever its size.",
    ),
    Setting(
        "follow_hz",
        20.0,
        "How often a presenter's view (follow me) goes out to the room, the latest winning: "
        "smooth enough to follow a pan, and a 1,000-phone room gets 20 small frames a second.",
    ),
    Setting(
        "max_laser_points",
        64,
        "Points in one laser message (a page sends one per animation frame, a few points each).",
    ),
    Setting(
        "laser_points_per_second",
        300.0,
        "Laser points one connection may send a second (bursts of twice that); more are dropped, "
        "so the trail thins rather than a room's phones drawing without end. A pointer reports "
        "60-240 points a second.",
    ),
    Setting(
        "presence_summary_hz",
        2.0,
        "In a large room, how often a summary of joins, leaves and renames goes out.",
    ),
    Setting(
        "peers_page_size",
        200,
        "Peers in each page of the participant list a client asks for (peers).",
    ),
    Setting(
        "welcome_max_peers",
        50,
        "In a large room, peers listed in a welcome besides those being shown (the rest come in "
        "pages as the list scrolls): a welcome of about 3 KB for every phone that joins a talk.",
    ),
    Setting(
        "frames_per_second",
        200.0,
        "Sustained frames per second per connection (a page sends "
        "at most one per animation frame, 60-120/s); bursts of twice that pass.",
    ),
    Setting(
        "bytes_per_second",
        2 * 1024 * 1024,
        "Sustained inbound bytes per second per connection; bursts of twice that pass.",
    ),
    Setting(
        "max_errors_per_connection",
        100,
        "Rejected messages before the connection closes "
        "with 4005: a client that keeps sending bad ops is broken.",
    ),
    Setting(
        "nothing_to_do_per_error",
        10,
        "'Nothing to do' answers (undo with an empty stack, erase of strokes already gone) that "
        "count as one rejected message: races between people are normal, a client that keeps "
        "asking for nothing is broken or hostile.",
    ),
    Setting(
        "max_work_ms_per_second",
        250.0,
        "Estimated server CPU time (decoding, validating, applying messages) the connections of "
        "one client address may use per second, bursts of twice that; a client over it is "
        "slowed down, not closed, so no mix of valid messages starves others. Joining is not "
        "charged: a room behind one NAT is one address.",
    ),
    Setting(
        "send_queue_bytes",
        4 * 1024 * 1024,
        "Bytes waiting for one receiver that is behind before it is closed with 4004 (it "
        "reconnects and resumes from its last seq). What waits goes out merged into one frame "
        "as soon as its socket takes more; the bodies are shared with other receivers.",
    ),
    Setting(
        "send_queue_age_s",
        15.0,
        "Seconds the oldest data waiting for a receiver (queued, or written but not taken by its "
        "socket) may wait before the receiver is closed with 4004: it is gone or hopelessly slow.",
    ),
    Setting(
        "socket_send_buffer_bytes",
        0,
        "Kernel send buffer of each WebSocket (SO_SNDBUF); 0 keeps the kernel's autotuning. "
        "Smaller makes a slow reader's backlog wait here, merged, rather than in the kernel.",
    ),
    Setting(
        "close_timeout_s",
        5.0,
        "After the server sends a close frame, seconds the client has to answer it before the "
        "socket is cut; meanwhile what it sends is read and dropped, so the close code arrives.",
    ),
    Setting(
        "shutdown_close_s",
        1.0,
        "On shutdown, seconds connected clients get to answer the server's 1001 close before "
        "their sockets are cut (under Hypercorn's graceful timeout of 3 s).",
    ),
    Setting(
        "load_slice_ms",
        4.0,
        "Loading a board parses and applies its log in slices of this many milliseconds, letting "
        "other boards run in between, so a large board does not stall the server.",
    ),
    Setting(
        "load_pause_ms",
        1.0,
        "After each slice of a board load the server does other work for this long: a request "
        "needs several turns of the event loop, and without a pause each turn would wait a slice.",
    ),
    Setting("hello_timeout_s", 10.0, "Time a new connection has to send its hello."),
    Setting("idle_unload_s", 60.0, "Seconds an unwatched board stays in memory."),
    Setting(
        "memory_trim_interval_s",
        10.0,
        "After boards unload, the C library's allocator is asked to give the memory they freed "
        "back to the system (malloc_trim), at most once in this many seconds; 0: never. Without "
        "it a server keeps in RSS the size of the biggest board it ever opened.",
    ),
    Setting("replay_frame_bytes", 1024 * 1024, "Target size of one replay frame to a late joiner."),
    Setting("ping_interval_s", 20.0, "WebSocket ping interval: finds peers that vanished."),
    Setting(
        "compact_after_ops",
        1000,
        "A board's snapshot is rebuilt, in a background process, once this many ops were "
        "committed since the last one: a late joiner gets the snapshot and at most about this "
        "many ops, however long the history. 0: no snapshots (joins replay the whole log).",
    ),
    Setting(
        "compact_idle_s",
        2.0,
        "A board quiet for this long whose ops after its snapshot weigh at least an eighth of "
        "the snapshot (and 64 KiB) is compacted then, so that a late joiner gets one snapshot "
        "and no tail of ops. 0: only every compact_after_ops ops.",
    ),
    Setting(
        "compact_yield_cpu_share",
        0.8,
        "Above this share of a core used by the server (all its threads, measured every 0.2 s), "
        "a compaction in flight pauses (up to compact_max_pause_s): on one core it would take "
        "about a tenth of the core from live drawing. Saturation is 0.9-1.0, a talk of 1,000 "
        "viewers 0.4-0.6. 0: the server always counts as busy.",
    ),
    Setting(
        "compact_max_pause_s",
        10.0,
        "Longest a compaction pauses for a busy server, in all, per snapshot; then it finishes "
        "at its low priority, so a board busy for good still gets a snapshot at least this often "
        "plus the time to build one. 0: compactions never pause.",
    ),
    Setting(
        "snapshot_undo_actions",
        100,
        "Each author's newest actions whose undo or redo a snapshot prepares: the strokes they "
        "would show again travel in it. An undo reaching further back carries its strokes itself.",
    ),
    # Exports (whiteboard/export/): memory, CPU and queue bounds.
    Setting(
        "max_export_pixels",
        16_000_000,
        "Pixels of one PNG export (4000 x 4000, ~64 MB of RGBA while drawing); larger requests "
        "are drawn at the largest scale that fits and say so (X-Whiteboard-Scaled).",
    ),
    Setting(
        "max_export_points",
        4_000_000,
        "Visible points of a board exported over HTTP (PNG, SVG, PDF); a larger board is refused "
        "at once with the reason (413) instead of rendering for a minute. The CLI has no limit.",
    ),
    Setting(
        "export_processes",
        2,
        "Processes drawing one large PNG in bands (the export worker and helpers), at low CPU "
        "priority so live drawing keeps the cores; 1 draws in the worker alone.",
    ),
    Setting(
        "png_compress_level",
        1,
        "zlib level of PNG exports (0-9; zlib-ng, rows unfiltered, each band deflated by the "
        "process that drew it). 1 is the fastest and, on whiteboard pictures, about as small as "
        "Pillow's filtered level 9 (docs/performance.md).",
    ),
    Setting(
        "timelapse_max_frames",
        150,
        "Frames of one timelapse GIF: bounds its size and drawing time whatever the history.",
    ),
    Setting(
        "timelapse_max_pixels",
        800 * 600,
        "Pixels of one timelapse frame; larger boards are scaled down (a GIF is for looking).",
    ),
    Setting(
        "max_pending_exports",
        8,
        "Distinct exports waiting for or in the export worker; beyond this a request gets 503 "
        "with Retry-After. Identical requests share one render and do not count.",
    ),
    Setting(
        "max_exports_per_client",
        2,
        "Distinct exports one client address may have waiting or rendering; more get 429 with "
        "Retry-After, so one client cannot fill the queue for everyone.",
    ),
    Setting(
        "export_timeout_s",
        30.0,
        "An export still drawing after this long stops and is answered 503 with the reason; the "
        "worker is free again at once.",
    ),
    Setting(
        "first_picture_min_board_bytes",
        1024 * 1024,
        "Log size from which a page opening a board at a given view first shows a PNG of that "
        "view rendered by the export worker (cached like exports), until its own drawing is done; "
        "a smaller board is drawn by the page sooner than such a picture arrives. 0: always.",
    ),
    Setting(
        "first_picture_views",
        16,
        "Views (board, region and scale, or a window zoomed to fit) pages opened at lately that "
        "the server remembers, each with its newest first picture (a PNG of ~1-2 MB): each is "
        "rendered again after its board's compaction, ready for the next visitor, and shown as a "
        "stand-in until then.",
    ),
    Setting("export_cache_entries", 32, "Rendered exports kept for repeated requests (LRU)."),
    Setting(
        "export_cache_bytes", 64 * 1024 * 1024, "Bytes of rendered exports kept in that cache."
    ),
    Setting(
        "log_format",
        "text",
        "How log lines look: 'text' (one line per event, for people) or 'json' (one JSON object "
        "per line with the event's fields as keys: board, peer, code, reason; for log pipelines).",
    ),
    Setting(
        "redis_url",
        "",
        "Keep boards in Redis instead of boards_dir (redis://host:6379/0, rediss://..., "
        "unix:///path/redis.sock), so several workers and hosts serve every board; empty: the "
        "file store. See docs/deploy.md.",
    ),
    Setting(
        "workers",
        1,
        "Worker processes sharing the listening socket; more than 1 needs redis_url (the file "
        "store allows one writer per board).",
    ),
    Setting(
        "redis_lease_ms",
        5000,
        "How long a worker owns a board (the only one committing its ops) without renewing; "
        "after a worker dies, commits pause at most this long before another takes over.",
    ),
    Setting(
        "redis_retention_days",
        0.0,
        "Days without a commit after which `whiteboard redis expire` archives a board to "
        "boards_dir (byte-exact) and removes it from Redis; 0: boards never expire. The server "
        "itself never removes a board: run the command (e.g. daily from cron).",
    ),
    Setting(
        "redis_durability",
        "always",
        "What Redis' append-only file promises, checked at start-up: 'always' (appendfsync "
        "always: nothing acknowledged is lost) or 'everysec' (up to a second of acknowledged "
        "ops may be lost on a crash; clients then resync).",
    ),
)

REDIS_DURABILITY = ("always", "everysec")
LOG_FORMATS = ("text", "json")
"""The ``log_format`` values (``logformat.configure_logging``)."""
"""The Redis ``appendfsync`` modes the server can promise (docs/deploy.md, Durability)."""

_DEFAULTS = {s.name: s.default for s in SETTINGS}


@dataclass(frozen=True, slots=True)
class Settings:
    host: str = _DEFAULTS["host"]
    port: int = _DEFAULTS["port"]
    listen_backlog: int = _DEFAULTS["listen_backlog"]
    accepts_per_second: int = _DEFAULTS["accepts_per_second"]
    accept_burst: int = _DEFAULTS["accept_burst"]
    boards_dir: Path = Path(_DEFAULTS["boards_dir"])
    public_url: str = _DEFAULTS["public_url"]
    allowed_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ()
    trusted_proxy_hops: int = _DEFAULTS["trusted_proxy_hops"]
    fsync: bool = _DEFAULTS["fsync"]
    tick_ms: float = _DEFAULTS["tick_ms"]
    max_frame_bytes: int = _DEFAULTS["max_frame_bytes"]
    max_points_per_stroke: int = _DEFAULTS["max_points_per_stroke"]
    max_strokes_per_board: int = _DEFAULTS["max_strokes_per_board"]
    max_board_bytes: int = _DEFAULTS["max_board_bytes"]
    max_total_bytes: int = _DEFAULTS["max_total_bytes"]
    min_free_disk_bytes: int = _DEFAULTS["min_free_disk_bytes"]
    max_boards: int = _DEFAULTS["max_boards"]
    max_loaded_boards: int = _DEFAULTS["max_loaded_boards"]
    new_boards_per_client_per_hour: int = _DEFAULTS["new_boards_per_client_per_hour"]
    max_connections: int = _DEFAULTS["max_connections"]
    reserved_fds: int = _DEFAULTS["reserved_fds"]
    max_open_log_files: int = _DEFAULTS["max_open_log_files"]
    max_coord: float = _DEFAULTS["max_coord"]
    min_width: float = _DEFAULTS["min_width"]
    max_width: float = _DEFAULTS["max_width"]
    max_name_chars: int = _DEFAULTS["max_name_chars"]
    max_ops_per_frame: int = _DEFAULTS["max_ops_per_frame"]
    max_erase_ids: int = _DEFAULTS["max_erase_ids"]
    max_text_chars: int = _DEFAULTS["max_text_chars"]
    max_text_lines: int = _DEFAULTS["max_text_lines"]
    min_text_size: float = _DEFAULTS["min_text_size"]
    max_text_size: float = _DEFAULTS["max_text_size"]
    max_element_scale: float = _DEFAULTS["max_element_scale"]
    max_add_items: int = _DEFAULTS["max_add_items"]
    max_live_strokes: int = _DEFAULTS["max_live_strokes"]
    max_images_per_board: int = _DEFAULTS["max_images_per_board"]
    max_upload_bytes: int = _DEFAULTS["max_upload_bytes"]
    max_image_pixels: int = _DEFAULTS["max_image_pixels"]
    max_image_side_px: int = _DEFAULTS["max_image_side_px"]
    uploads_per_minute: float = _DEFAULTS["uploads_per_minute"]
    media_grace_s: float = _DEFAULTS["media_grace_s"]
    max_connections_per_board: int = _DEFAULTS["max_connections_per_board"]
    presence_detail_max_peers: int = _DEFAULTS["presence_detail_max_peers"]
    cursor_hz: float = _DEFAULTS["cursor_hz"]
    follow_hz: float = _DEFAULTS["follow_hz"]
    max_laser_points: int = _DEFAULTS["max_laser_points"]
    laser_points_per_second: float = _DEFAULTS["laser_points_per_second"]
    presence_bytes_per_second: int = _DEFAULTS["presence_bytes_per_second"]
    presence_summary_hz: float = _DEFAULTS["presence_summary_hz"]
    peers_page_size: int = _DEFAULTS["peers_page_size"]
    welcome_max_peers: int = _DEFAULTS["welcome_max_peers"]
    frames_per_second: float = _DEFAULTS["frames_per_second"]
    bytes_per_second: int = _DEFAULTS["bytes_per_second"]
    max_errors_per_connection: int = _DEFAULTS["max_errors_per_connection"]
    nothing_to_do_per_error: int = _DEFAULTS["nothing_to_do_per_error"]
    max_work_ms_per_second: float = _DEFAULTS["max_work_ms_per_second"]
    send_queue_bytes: int = _DEFAULTS["send_queue_bytes"]
    send_queue_age_s: float = _DEFAULTS["send_queue_age_s"]
    socket_send_buffer_bytes: int = _DEFAULTS["socket_send_buffer_bytes"]
    close_timeout_s: float = _DEFAULTS["close_timeout_s"]
    shutdown_close_s: float = _DEFAULTS["shutdown_close_s"]
    load_slice_ms: float = _DEFAULTS["load_slice_ms"]
    load_pause_ms: float = _DEFAULTS["load_pause_ms"]
    hello_timeout_s: float = _DEFAULTS["hello_timeout_s"]
    idle_unload_s: float = _DEFAULTS["idle_unload_s"]
    memory_trim_interval_s: float = _DEFAULTS["memory_trim_interval_s"]
    replay_frame_bytes: int = _DEFAULTS["replay_frame_bytes"]
    ping_interval_s: float = _DEFAULTS["ping_interval_s"]
    compact_after_ops: int = _DEFAULTS["compact_after_ops"]
    compact_idle_s: float = _DEFAULTS["compact_idle_s"]
    compact_yield_cpu_share: float = _DEFAULTS["compact_yield_cpu_share"]
    compact_max_pause_s: float = _DEFAULTS["compact_max_pause_s"]
    snapshot_undo_actions: int = _DEFAULTS["snapshot_undo_actions"]
    max_export_pixels: int = _DEFAULTS["max_export_pixels"]
    max_export_points: int = _DEFAULTS["max_export_points"]
    export_processes: int = _DEFAULTS["export_processes"]
    png_compress_level: int = _DEFAULTS["png_compress_level"]
    timelapse_max_frames: int = _DEFAULTS["timelapse_max_frames"]
    timelapse_max_pixels: int = _DEFAULTS["timelapse_max_pixels"]
    max_pending_exports: int = _DEFAULTS["max_pending_exports"]
    max_exports_per_client: int = _DEFAULTS["max_exports_per_client"]
    export_timeout_s: float = _DEFAULTS["export_timeout_s"]
    first_picture_min_board_bytes: int = _DEFAULTS["first_picture_min_board_bytes"]
    first_picture_views: int = _DEFAULTS["first_picture_views"]
    export_cache_entries: int = _DEFAULTS["export_cache_entries"]
    export_cache_bytes: int = _DEFAULTS["export_cache_bytes"]
    log_format: str = _DEFAULTS["log_format"]
    redis_url: str = _DEFAULTS["redis_url"]
    workers: int = _DEFAULTS["workers"]
    redis_lease_ms: int = _DEFAULTS["redis_lease_ms"]
    redis_retention_days: float = _DEFAULTS["redis_retention_days"]
    redis_durability: str = _DEFAULTS["redis_durability"]
    limits: Limits = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "boards_dir", Path(self.boards_dir))
        if self.workers < 1:
            raise ValueError(f"workers must be at least 1, got {self.workers}")
        if self.accepts_per_second < 1 or self.accept_burst < 1:
            raise ValueError(
                "accepts_per_second and accept_burst must be at least 1, got "
                f"{self.accepts_per_second} and {self.accept_burst}"
            )
        if self.workers > 1 and not self.redis_url:
            raise ValueError(
                "--workers above 1 needs --redis URL: the file store allows one writer per "
                "board, so several workers must share boards through Redis"
            )
        if self.log_format not in LOG_FORMATS:
            raise ValueError(
                f"log_format must be one of {', '.join(LOG_FORMATS)}, got {self.log_format!r}"
            )
        if self.redis_durability not in REDIS_DURABILITY:
            raise ValueError(
                f"redis_durability must be one of {', '.join(REDIS_DURABILITY)}, "
                f"got {self.redis_durability!r}"
            )
        object.__setattr__(
            self,
            "limits",
            Limits(
                max_points_per_stroke=self.max_points_per_stroke,
                max_coord=self.max_coord,
                min_width=self.min_width,
                max_width=self.max_width,
                max_name_chars=self.max_name_chars,
                max_ops_per_frame=self.max_ops_per_frame,
                max_erase_ids=self.max_erase_ids,
                max_text_chars=self.max_text_chars,
                max_text_lines=self.max_text_lines,
                min_text_size=self.min_text_size,
                max_text_size=self.max_text_size,
                max_element_scale=self.max_element_scale,
                max_add_items=self.max_add_items,
                max_laser_points=self.max_laser_points,
            ),
        )

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


def env_name(setting: str) -> str:
    return "WHITEBOARD_" + setting.upper()


def parse_value(name: str, raw: str) -> Any:
    """Convert a flag or environment string to the setting's type; raise ValueError with why."""
    default = _DEFAULTS[name]
    if name == "allowed_origins":
        return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    if name == "allowed_hosts":
        return tuple(h.strip().lower() for h in raw.split(",") if h.strip())
    if isinstance(default, bool):
        lowered = raw.strip().lower()
        if lowered in ("1", "true", "yes", "on"):
            return True
        if lowered in ("0", "false", "no", "off"):
            return False
        raise ValueError(f"{name} must be on or off, got {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    return raw


def from_sources(flags: Mapping[str, str | None], environ: Mapping[str, str]) -> Settings:
    """Settings from command-line ``flags`` (None: not given) over ``environ`` over defaults."""
    values: dict[str, Any] = {}
    for setting in SETTINGS:
        raw = flags.get(setting.name)
        if raw is None:
            raw = environ.get(env_name(setting.name))
        if raw is not None:
            values[setting.name] = parse_value(setting.name, str(raw))
    return Settings(**values)
