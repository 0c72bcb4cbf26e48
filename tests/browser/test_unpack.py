"""The page's own msgpack decoder (static/js/unpack.js) reads what the vendored @msgpack/msgpack
reads, the same way: every value Python's msgpack writes (ints of every width, floats, strings
short and long, ASCII or not, binary, nested arrays and maps) and real replay frames. What it does
not read (extension types) it refuses, and ``decodeFrame`` then uses the vendored decoder."""

from __future__ import annotations

import base64
import random
from typing import Any

import msgpack
import pytest
from playwright.sync_api import Browser

from tests.serving import ServerThread

from .seeding import random_strokes

# Decodes each payload with both decoders: do they agree (by a canonical JSON form that keeps
# binary apart from arrays), did ours refuse it, and does decodeFrame give the general decoder's
# messages?
BOTH_JS = """
async (payloads) => {
  const { unpack } = await import("/static/js/unpack.js");
  const { decode } = await import("/static/vendor/msgpack/index.mjs");
  const { decodeFrame } = await import("/static/js/protocol.js");
  const canonical = (value) => JSON.stringify(value, (key, v) =>
    v instanceof Uint8Array ? { bin: Array.from(v) } : v);
  const attempt = (decoder, bytes) => {
    try {
      return { value: decoder(bytes) };
    } catch {
      return null;
    }
  };
  return payloads.map((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const general = attempt(decode, bytes);
    const ours = attempt(unpack, bytes);
    // What decodeFrame must give: the general decoder's value as messages, [] when it fails.
    const obj = general ? general.value : null;
    const messages = obj === null || typeof obj !== "object" ? []
      : obj.type === "batch" ? (Array.isArray(obj.ops) ? obj.ops : []) : [obj];
    return {
      same: !!ours && !!general && canonical(ours.value) === canonical(general.value),
      refused: ours === null,
      frameSame: canonical(decodeFrame(bytes.buffer)) === canonical(messages),
    };
  });
}
"""


def random_value(rng: random.Random, depth: int = 0) -> Any:
    kinds = ["int", "float", "str", "bin", "bool", "nil"]
    if depth < 3:
        kinds += ["array", "map"]
    kind = rng.choice(kinds)
    if kind == "int":
        bits = rng.choice([4, 7, 8, 15, 16, 31, 32, 52])
        return rng.randint(-(2**bits), 2**bits)
    if kind == "float":
        return rng.choice([0.5, -1.25, 3.0, 1e300, -2.5e-8, rng.uniform(-1e6, 1e6)])
    if kind == "str":
        alphabet = rng.choice(["abcXYZ019_-#", "äöü€😀ß", "a"])
        return "".join(rng.choice(alphabet) for _ in range(rng.choice([0, 1, 5, 16, 17, 40, 300])))
    if kind == "bin":
        return bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 300])))
    if kind == "bool":
        return rng.random() < 0.5
    if kind == "nil":
        return None
    if kind == "array":
        return [random_value(rng, depth + 1) for _ in range(rng.choice([0, 1, 15, 16, 40]))]
    keys = ["type", "pts", "id", "x", "a long key with spaces", "ü"]
    return {
        rng.choice(keys) + str(i): random_value(rng, depth + 1) for i in range(rng.randint(0, 17))
    }


def encoded(values: list[Any]) -> list[str]:
    return [base64.b64encode(msgpack.packb(v, use_bin_type=True)).decode() for v in values]


@pytest.mark.timeout(60)
def test_unpack_reads_what_the_vendored_decoder_reads(
    browser: Browser, server: ServerThread
) -> None:
    rng = random.Random(11)
    values: list[Any] = [random_value(rng) for _ in range(400)]
    values += [2**64 - 1, -(2**63), 2**53 + 1, {"type": "batch", "ops": []}, "x" * 70_000]
    # Thousands of short strings: the string cache's slots collide and are overwritten.
    values.append([f"{rng.choice('abc')}{i:x}{rng.choice('xyz')}" for i in range(20_000)])
    replay = {"type": "batch", "ops": random_strokes(300, 50, 1000, 1000)}
    for seq, op in enumerate(replay["ops"], 1):
        op.update(seq=seq, by="author123456")
    values.append(replay)
    page = browser.new_page()
    try:
        page.goto(f"{server.http_url}/healthz")
        results = page.evaluate(BOTH_JS, encoded(values))
    finally:
        page.close()
    assert [r for r in results if not r["same"]] == []
    assert all(r["frameSame"] for r in results)


@pytest.mark.timeout(60)
def test_unpack_refuses_extension_types_and_the_frame_decodes_anyway(
    browser: Browser, server: ServerThread
) -> None:
    payloads = [
        msgpack.packb({"type": "x", "when": msgpack.ExtType(5, b"abcd")}),
        msgpack.packb(msgpack.Timestamp(1_700_000_000, 5)),
    ]
    page = browser.new_page()
    try:
        page.goto(f"{server.http_url}/healthz")
        results = page.evaluate(BOTH_JS, [base64.b64encode(p).decode() for p in payloads])
    finally:
        page.close()
    assert all(r["refused"] for r in results)
    assert all(r["frameSame"] for r in results)
