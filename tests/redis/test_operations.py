"""What an operator runs: `--workers N` under one supervisor, health and readiness, metrics."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from tests.integration.client import pen_stroke
from tests.redis.cluster import RawClient
from tests.redis_server import RedisServer
from tests.serving import free_port, wait_for_port
from whiteboard.cluster.board import PEER_BITS

REPO = Path(__file__).resolve().parents[2]
SERVE = (sys.executable, "-m", "whiteboard", "serve")


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def metrics(url: str) -> dict[str, float]:
    with urllib.request.urlopen(url + "/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return values


def test_workers_need_redis() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "whiteboard", "serve", "--workers", "2"],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=30,
    )
    assert result.returncode == 2
    assert "--workers above 1 needs --redis URL" in result.stderr


async def test_a_supervisor_runs_restarts_and_stops_its_workers(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    port = free_port()
    output_path = tmp_path / "supervisor.log"
    output_file = output_path.open("wb")
    supervisor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "whiteboard",
            "serve",
            "--redis",
            redis_server.url,
            "--workers",
            "2",
            "--port",
            str(port),
            "--boards-dir",
            str(tmp_path / "b"),
        ],
        cwd=REPO,
        stdout=output_file,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_for_port(port)
        url = f"ws://127.0.0.1:{port}"
        async with asyncio.timeout(20):
            while len(children_of(supervisor.pid)) < 2:
                await asyncio.sleep(0.1)
        first_workers = children_of(supervisor.pid)
        clients, seen = [], set()
        while (len(seen) < 2 or len(clients) < 4) and len(clients) < 40:  # spread over both
            client = await RawClient.connect(url, "supervised", f"c{len(clients)}")
            clients.append(client)
            seen.add(client.welcome["peer"] >> PEER_BITS)
        assert len(seen) == 2
        for index, client in enumerate(clients[:4]):
            await client.send(pen_stroke(f"s{index}"))
        await clients[0].wait_for_seq(4)

        def settled(counted: dict[str, float]) -> bool:
            return counted["whiteboard_ops_committed_total"] >= 4 and counted[
                "whiteboard_connections"
            ] >= len(clients)

        async with asyncio.timeout(10):  # each worker copies its counters once a second
            while not settled(counted := metrics(f"http://127.0.0.1:{port}")):
                await asyncio.sleep(0.2)
        assert counted["whiteboard_ops_committed_total"] == 4  # every worker's, summed
        assert counted["whiteboard_connections"] == len(clients)
        assert counted["whiteboard_frames_in_total"] >= 4
        assert counted["whiteboard_redis_up"] == 2  # both workers see Redis
        for client in clients:
            await client.close()
        victim = min(first_workers)
        os.kill(victim, signal.SIGKILL)
        async with asyncio.timeout(20):
            while True:
                workers = children_of(supervisor.pid)
                if len(workers) == 2 and victim not in workers:
                    break
                await asyncio.sleep(0.1)
        back = await RawClient.connect(url, "supervised", "after")
        await back.wait_for_seq(4)
        await back.close()
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=20) == 0
        assert not children_of(supervisor.pid)
    finally:
        if supervisor.poll() is None:
            supervisor.kill()
            supervisor.wait()
        output_file.close()
    assert "restarting" in output_path.read_text(errors="replace")


async def test_workers_do_not_outlive_a_killed_supervisor(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    port, boards = free_port(), ("--boards-dir", str(tmp_path / "b"))
    supervisor = subprocess.Popen(
        [*SERVE, "--redis", redis_server.url, "--workers", "2", "--port", str(port), *boards],
        cwd=REPO,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        async with asyncio.timeout(20):
            while len(children_of(supervisor.pid)) < 2:
                await asyncio.sleep(0.1)
        workers = children_of(supervisor.pid)
    finally:
        supervisor.kill()
        supervisor.wait()
    async with asyncio.timeout(15):  # they close their sockets and flush, then exit
        while any(Path(f"/proc/{pid}").exists() and not zombie(pid) for pid in workers):
            await asyncio.sleep(0.1)


def zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


async def test_health_readiness_and_metrics_of_one_worker(workers: object) -> None:
    worker = workers.start()  # type: ignore[attr-defined]
    ann = await RawClient.connect(worker.ws_url, "metered", "ann")
    await ann.send(pen_stroke("s1"), pen_stroke("s2"))
    await ann.wait_for_seq(2)
    await ann.send(
        {"type": "undo", "id": "u1"}, {"type": "redo", "id": "r1"}, {"type": "redo", "id": "r2"}
    )  # the last has nothing to redo: an error
    await ann.wait_for(lambda m: m.get("type") == "error")
    await ann.wait_for_seq(4)  # the error may come before the undo and redo are durable
    await ann.close()
    with urllib.request.urlopen(worker.http_url + "/readyz", timeout=5) as response:
        assert response.status == 200
    counted = metrics(worker.http_url)
    assert counted["whiteboard_ops_committed_total"] == 4
    assert counted["whiteboard_ops_in_total"] == 5
    assert counted["whiteboard_errors_total{code=unknown_stroke}"] == 1
    assert counted["whiteboard_redis_lease_changes_total"] == 1
    assert counted["whiteboard_log_append_seconds_count"] >= 1
