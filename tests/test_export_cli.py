"""``whiteboard export``: the format from the extension, the HTTP options as flags, read-only."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image, ImageSequence

from whiteboard.board import Board
from whiteboard.cli import main
from whiteboard.protocol import Stroke, Style, delta_code
from whiteboard.store.file import frame_record


def export_cli(tmp_path: Path, *args: str) -> int:
    """``whiteboard export ARGS --boards-dir <tmp>/boards``: its exit status."""
    return main(["export", *args, "--boards-dir", str(tmp_path / "boards")])


def write_log(boards_dir: Path, board_id: str, strokes: int = 3) -> Path:
    board = Board(max_strokes=100_000)
    records = [
        board.commit(
            Stroke(
                f"s{i}",
                Style("pen", "#1e88e5", 4.0),
                delta_code([(i * 5, 0), (i * 5 + 20, 30), (i * 5, 60)]),
                None,
            ),
            "a",
        )
        for i in range(strokes)
    ]
    boards_dir.mkdir(parents=True, exist_ok=True)
    path = boards_dir / f"{board_id}.log"
    path.write_bytes(b"".join(frame_record(r) for r in records))
    return path


@pytest.mark.parametrize(
    ("suffix", "magic"),
    [
        ("png", b"\x89PNG"),
        ("svg", b"<svg"),
        ("pdf", b"%PDF"),
        ("gif", b"GIF8"),
    ],
)
def test_format_follows_the_extension(tmp_path: Path, suffix: str, magic: bytes) -> None:
    write_log(tmp_path / "boards", "retro")
    out = tmp_path / f"board.{suffix}"
    code = export_cli(tmp_path, "retro", "-o", str(out))
    assert code == 0
    assert out.read_bytes().startswith(magic)


def test_scale_background_and_region_flags(tmp_path: Path) -> None:
    write_log(tmp_path / "boards", "retro")
    out = tmp_path / "board.png"
    code = export_cli(
        tmp_path,
        "retro",
        "-o",
        str(out),
        "--scale",
        "2",
        "--background",
        "#ff0000",
        "--region",
        "0, 0, 50, 25",
    )
    assert code == 0
    image = Image.open(out)
    assert image.size == (100, 50)
    assert image.convert("RGB").getpixel((99, 0)) == (255, 0, 0)


def test_transparent_png(tmp_path: Path) -> None:
    write_log(tmp_path / "boards", "retro")
    out = tmp_path / "board.png"
    assert export_cli(tmp_path, "retro", "-o", str(out), "--background", "transparent") == 0
    image = Image.open(out)
    assert image.mode == "RGBA" and image.getpixel((0, 0))[3] == 0


def test_boards_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write_log(tmp_path / "elsewhere", "retro")
    monkeypatch.setenv("WHITEBOARD_BOARDS_DIR", str(tmp_path / "elsewhere"))
    out = tmp_path / "board.svg"
    assert main(["export", "retro", "-o", str(out)]) == 0
    assert out.read_bytes().count(b"<path") == 3


def test_missing_board_fails_naming_the_boards_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boards = tmp_path / "boards"
    write_log(boards, "retro")
    out = tmp_path / "x.png"
    assert main(["export", "TYPO", "-o", str(out), "--boards-dir", str(boards)]) == 1
    err = capsys.readouterr().err
    assert "no board 'TYPO'" in err and str(boards) in err and "--allow-empty" in err
    assert not out.exists()
    assert sorted(p.name for p in boards.iterdir()) == ["retro.log"]


def test_allow_empty_exports_a_blank_picture_and_creates_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    boards = tmp_path / "boards"
    boards.mkdir()
    out = tmp_path / "board.png"
    assert (
        main(
            ["export", "never-drawn", "-o", str(out), "--boards-dir", str(boards), "--allow-empty"]
        )
        == 0
    )
    assert Image.open(out).size == (64, 64)
    assert list(boards.iterdir()) == []
    assert "does not exist" in capsys.readouterr().err


def test_an_id_starting_with_a_dash_goes_after_double_dash(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(tmp_path / "boards", "-rf")
    out = tmp_path / "board.svg"
    boards = str(tmp_path / "boards")
    assert main(["export", "-o", str(out), "--boards-dir", boards, "--", "-rf"]) == 0
    assert out.read_bytes().count(b"<path") == 3
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "after '--'" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["bad id!", "-o", "x.png"], "invalid board id"),
        (["retro", "-o", "x.jpeg"], "use .png, .svg, .pdf or .gif"),
        (["retro", "-o", "x.png", "--scale", "40"], "scale must be between"),
        (["retro", "-o", "x.png", "--region", "1,2"], "region must be x,y,w,h"),
        (["retro", "-o", "x.gif", "--background", "transparent"], "GIF cannot be transparent"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    write_log(tmp_path / "boards", "retro")
    args = [a if not a.startswith("x.") else str(tmp_path / a) for a in args]
    assert export_cli(tmp_path, *args) == 2
    assert message in capsys.readouterr().err


def test_large_board_shows_a_progress_bar(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_log(tmp_path / "boards", "big", strokes=2500)
    out = tmp_path / "big.png"
    assert export_cli(tmp_path, "big", "-o", str(out)) == 0
    err = capsys.readouterr().err
    assert "100% 2500/2500" in err and "[####" in err
    assert export_cli(tmp_path, "big", "-o", str(out), "--quiet") == 0
    assert capsys.readouterr().err == ""


def test_reads_a_log_being_written_without_touching_it(tmp_path: Path) -> None:
    """A server may be mid-append: a torn last record is skipped, and the file is not repaired."""
    path = write_log(tmp_path / "boards", "live", strokes=4)
    torn = path.read_bytes() + frame_record(b"\x81\xa4type\xa6stroke")[:9]
    path.write_bytes(torn)
    before = path.stat()
    out = tmp_path / "live.svg"
    assert export_cli(tmp_path, "live", "-o", str(out)) == 0
    assert out.read_bytes().count(b"<path") == 4
    after = path.stat()
    assert path.read_bytes() == torn
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_timelapse_gif_animates(tmp_path: Path) -> None:
    write_log(tmp_path / "boards", "retro", strokes=5)
    out = tmp_path / "retro.gif"
    assert export_cli(tmp_path, "retro", "-o", str(out)) == 0
    frames = [
        f.convert("L") for f in ImageSequence.Iterator(Image.open(io.BytesIO(out.read_bytes())))
    ]
    # blank, then each stroke grows (two partial frames: its 3 points allow no more) and is done
    assert len(frames) == 1 + 5 * 3
    ink = [sum(1 for v in frame.tobytes() if v < 128) for frame in frames]
    assert ink[0] == 0 and ink == sorted(ink) and ink[-1] > ink[-2]


async def test_exports_while_a_server_writes_the_same_directory(tmp_path: Path) -> None:
    """The CLI only reads: the running server keeps appending, and sees nothing change."""
    from tests.integration.client import BoardClient, is_op, pen_stroke
    from tests.serving import ServerProcess

    boards = tmp_path / "boards"
    with ServerProcess(boards, "--fsync", "off") as server:
        client = await BoardClient.connect(server.ws_url, "shared")
        await client.send(pen_stroke("a"), pen_stroke("b", [80, 80, 8, 8]))
        await client.wait_for(is_op("stroke", "b"))
        out = tmp_path / "shared.svg"
        code = await asyncio.to_thread(
            main, ["export", "shared", "-o", str(out), "--boards-dir", str(boards), "--quiet"]
        )
        assert code == 0 and out.read_bytes().count(b"<path") == 2
        await client.send(pen_stroke("c", [160, 160, 8, 8]))
        message = await client.wait_for(is_op("stroke", "c"))
        assert message["seq"] == 3
        await client.close()
