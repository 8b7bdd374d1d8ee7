"""The `vouchers` command's refusals: one line on stderr, a non-zero exit."""

from __future__ import annotations

import pytest

from app.cli import main


def test_embedded_store_refuses_several_workers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("VOUCHERS_REDIS_URL", raising=False)
    assert main(["serve", "--workers", "2"]) == 2
    assert "embedded store runs in one process" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VOUCHERS_API_KEYS", "not json"),
        ("VOUCHERS_PORT", "0"),
        ("VOUCHERS_API_KEYS", '[{"token": "short", "role": "admin", "user": "a"}]'),
        ("VOUCHERS_API_KEYS", '[{"token": "long-enough-token-123", "role": "root", "user": "a"}]'),
    ],
)
def test_bad_configuration_is_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("vouchers: invalid configuration: ")
    assert name in err
    assert "short" not in err  # a token is never echoed
