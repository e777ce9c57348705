"""The installed app never reaches for the network: the self-test passes with sockets blocked."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from marrow_desktop import selftest


class NetworkUsed(AssertionError):
    pass


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every way Python opens a connection or resolves a name raises (and is recorded)."""
    attempts: list[str] = []

    def refuse(what: str):
        def blocked(*args, **kwargs):
            attempts.append(f"{what}{args[1:2] or args[:1]}")
            raise NetworkUsed(f"network use: {what}")
        return blocked

    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))
    monkeypatch.setattr(socket.socket, "sendto", refuse("sendto"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    return attempts


def test_blocking_works(no_network: list[str]) -> None:
    with pytest.raises(NetworkUsed):
        socket.create_connection(("example.org", 80))
    assert no_network


def test_selftest_passes_offline(no_network: list[str], bundled_model: Path,
                                 tmp_path: Path) -> None:
    result = selftest.run_selftest(backend="onnx", report_dir=tmp_path)
    assert result.passed, result.failures
    assert no_network == []
    assert list(tmp_path.glob("*.csv"))  # the report was written and read back
