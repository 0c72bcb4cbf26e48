"""The deployment examples in deploy/ are documentation no test can run here (no container
engine): they must at least parse, and say what docs/deploy.md promises they say."""

from __future__ import annotations

from pathlib import Path

import yaml

DEPLOY = Path(__file__).resolve().parent.parent / "deploy"


def test_compose_runs_redis_with_aof_always_two_replicas_and_a_websocket_proxy() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    redis_command = services["redis"]["command"]
    assert "--appendfsync always" in redis_command
    assert "--maxmemory-policy noeviction" in redis_command
    app = services["whiteboard"]
    assert app["deploy"]["replicas"] == 2
    assert app["environment"]["WHITEBOARD_REDIS_URL"].startswith("redis://redis:")
    nginx = (DEPLOY / "nginx.conf").read_text()
    assert "proxy_set_header Upgrade $http_upgrade;" in nginx
    assert "proxy_read_timeout" in nginx


def test_kubernetes_probes_health_and_readiness_and_waits_before_sigterm() -> None:
    documents = [d for d in yaml.safe_load_all((DEPLOY / "kubernetes.yaml").read_text()) if d]
    kinds = {d["kind"] for d in documents}
    assert {"Deployment", "StatefulSet", "Service", "Ingress", "ConfigMap"} <= kinds
    (deployment,) = [d for d in documents if d["kind"] == "Deployment"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["lifecycle"]["preStop"]["exec"]["command"][0] == "sleep"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert env["WHITEBOARD_REDIS_URL"].startswith("redis://")
    (config,) = [d for d in documents if d["kind"] == "ConfigMap"]
    assert "appendfsync always" in config["data"]["redis.conf"]


def test_the_image_serves_on_every_interface_and_checks_liveness() -> None:
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    assert "WHITEBOARD_HOST=0.0.0.0" in dockerfile
    assert "/healthz" in dockerfile
    assert "'.[redis]'" in dockerfile
