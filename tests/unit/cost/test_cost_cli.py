"""``python -m chalicelib.cli cost``: the table, the JSON shape, and docs/cost.md with its chart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chalicelib.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    assert main(["cost", *args]) == 0
    return capsys.readouterr().out


def test_json_has_the_issue_shape(capsys: pytest.CaptureFixture[str]) -> None:
    body = json.loads(
        run(capsys, "--json", "--scenario", "seed-pure-fal", "measured", "--users", "1000,100000")
    )
    assert list(body) == ["scenarios"]
    assert [s["name"] for s in body["scenarios"]] == ["seed-pure-fal", "measured"]
    for scenario in body["scenarios"]:
        assert set(scenario) == {"name", "rows"}
        assert [row["users"] for row in scenario["rows"]] == [1000, 100000]
        for row in scenario["rows"]:
            assert set(row) == {"users", "ai_generations", "monthly_usd", "per_1000_users_usd", "lines"}
            assert set(row["monthly_usd"]) == set(row["per_1000_users_usd"]) == {"low", "high"}
            assert all(set(line) == {"item", "low", "high"} for line in row["lines"])
            assert row["monthly_usd"]["high"] == pytest.approx(
                sum(line["high"] for line in row["lines"]), abs=1e-3
            )
    fal = body["scenarios"][0]["rows"][1]
    assert fal["monthly_usd"] == {"low": 315.0, "high": 315.0}
    assert fal["per_1000_users_usd"] == {"low": 3.15, "high": 3.15}


def test_assumptions_from_flags(capsys: pytest.CaptureFixture[str]) -> None:
    def provider_high(*flags: str) -> float:
        body = json.loads(run(capsys, "--json", "--scenario", "measured", "--users", "10000", *flags))
        return float(body["scenarios"][0]["rows"][0]["lines"][0]["high"])

    # 10,000 users x 30 % x (1 - 0.5) = 1,500 paid, all fast at $0.003 with no premium
    assert provider_high("--dedup-saving", "0.5", "--premium-share", "0") == pytest.approx(4.5)
    assert provider_high(
        "--dedup-saving", "0.5", "--premium-share", "0", "--ai-share", "0.6"
    ) == pytest.approx(9.0)
    assert provider_high(
        "--dedup-saving", "0", "--premium-share", "0", "--generations-per-ai-user", "2"
    ) == pytest.approx(18.0)


def test_the_table(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys, "--scenario", "seed-hybrid", "--users", "100000")
    assert "seed-hybrid" in out and "100,000 users" in out and "$355-$505" in out


def test_write_makes_the_report_and_its_chart(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "docs" / "cost.md"
    run(capsys, "--write", str(target))
    text = target.read_text()
    chart = (tmp_path / "docs" / "cost.svg").read_text()
    assert "![cost per month and per 1,000 users against users / month](cost.svg)" in text
    assert "goal met" in text and "ten times less" in text and "**assumption**" in text
    assert chart.startswith("<svg") and chart.count("<polyline") == 2 * 2 * 4  # 2 panels x low/high x 4


@pytest.mark.parametrize(
    "args", [["--users", "ten"], ["--users", "0"], ["--ai-share", "2"], ["--scenario", "x"]]
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["cost", *args])
    assert exited.value.code == 2


def test_bad_price_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.json"
    path.write_text('{"nope": 1}')
    assert main(["cost", "--prices", str(path)]) == 2
    assert "unknown price" in capsys.readouterr().err
