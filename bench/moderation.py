"""Prompt moderation's cost per prompt (``PromptModeration.refuses``), on the request path of every
``POST /v1/generations`` with a prompt.

Run from the repository root::

    .venv/bin/python -m bench.moderation                       # print the table
    .venv/bin/python -m bench.moderation --baseline 53b78c4    # ... beside another commit's
    .venv/bin/python -m bench.moderation --write               # ... and update docs/benchmarks.md

Each row is the best of ``--repeat`` timings of ``--number`` calls (``timeit``), in microseconds per
call, after one untimed call (the first prompt outside ASCII reads the confusables data: that
one-off cost is its own row). ``--baseline`` loads that commit's ``moderation.py`` (and its helpers) and its default
list from git into a temporary directory and times them in the same process, interleaved with the
working tree's, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import subprocess
import sys
import tempfile
import time
import timeit
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from bench.report import command_line, machine, markdown_table, write_section

ROOT = Path(__file__).resolve().parents[1]
SECTION = "moderation"
SECTION_HEADING = "## Prompt moderation per prompt (bench/moderation.py)"
PROMPTS: dict[str, str] = {
    "43 characters, plain": "a watercolor portrait of a fox in the snow.",
    "300 characters, digits (three readings)": (
        "a professional headshot of a smiling woman with curly red hair, soft studio light, shallow depth "
        "of field, wearing a navy blazer and a white shirt, bokeh city background at dusk, cinematic "
        "colour grading, sharp focus on the eyes, 85mm lens, natural skin texture, friendly expression, "
        "high detail, 4k"
    ),
    "spaced pair `n u d e  c h i l d`": "n u d e  c h i l d",
    "run together `nudechild`": "nudechild",
    "Cyrillic, 30 characters": "\u043f\u043e\u0440\u0442\u0440\u0435\u0442 \u043a\u043e\u0442\u0430 \u0432 "
    "\u0448\u043b\u044f\u043f\u0435, \u0430\u043a\u0432\u0430\u0440\u0435\u043b\u044c",
    "homoglyphs `n\u0430k\u0435d kid` (Cyrillic a, ie)": "n\u0430k\u0435d kid",
}


# Moderation's modules, in import order (before issue 25 it was moderation.py alone).
MODULES = ("prompt_reading", "moderation_rules", "moderation")


def load_baseline(ref: str, workdir: Path) -> Any:
    """That commit's moderation module, with its own default list and its own helper modules (each
    loaded under its real name while the next one imports it, then the working tree's put back)."""
    for name in (*(f"{module}.py" for module in MODULES), "refused_terms.txt"):
        shown = subprocess.run(
            ["git", "show", f"{ref}:chalicelib/domain/{name}"], cwd=ROOT, capture_output=True, check=False
        )
        if shown.returncode == 0:
            (workdir / name).write_bytes(shown.stdout)
    saved = {name: sys.modules.get(f"chalicelib.domain.{name}") for name in MODULES}
    module: Any = None
    try:
        for name in MODULES:
            path = workdir / f"{name}.py"
            if not path.exists():
                continue
            spec = importlib.util.spec_from_file_location(f"chalicelib.domain.{name}", path)
            if spec is None or spec.loader is None:
                raise SystemExit(f"cannot load the moderation module of {ref}")
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module  # its dataclasses look their module up; the next imports it
            spec.loader.exec_module(module)
    finally:
        for name, original in saved.items():
            if original is None:
                sys.modules.pop(f"chalicelib.domain.{name}", None)
            else:
                sys.modules[f"chalicelib.domain.{name}"] = original
    if module is None:
        raise SystemExit(f"cannot load the moderation module of {ref}")
    return module


def per_call_us(call: Callable[[], object], number: int, repeat: int) -> float:
    call()
    return min(timeit.repeat(call, number=number, repeat=repeat)) / number * 1e6


def first_use_ms() -> float:
    """The first prompt outside ASCII that NFKD does not fold, in a fresh interpreter: reading the
    confusables data included."""
    code = (
        "import time; from chalicelib.domain.moderation import PromptModeration as P; m = P.from_file(); "
        "t = time.perf_counter(); m.refuses('\\u043a\\u043e\\u0442'); print((time.perf_counter() - t) * 1000)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def measure(baseline: str | None, number: int, repeat: int) -> tuple[list[list[str]], dict[str, float]]:
    from chalicelib.domain.moderation import PromptModeration

    now = PromptModeration.from_file()
    extra = {"first_use_ms": first_use_ms()}
    with tempfile.TemporaryDirectory() as tmp:
        before = load_baseline(baseline, Path(tmp)).PromptModeration.from_file() if baseline else None
        loads = []
        for _ in range(repeat):
            re.purge()  # compiled afresh, as at start-up
            started = time.perf_counter()
            PromptModeration.from_file()
            loads.append((time.perf_counter() - started) * 1000)
        extra["load_ms"] = min(loads)
        rows = []
        for label, prompt in PROMPTS.items():
            cells = [label, str(len(prompt))]
            if before is not None:
                timed = per_call_us(partial(before.refuses, prompt), number, repeat)
                cells += [f"{timed:.1f}", _yes(before.refuses(prompt))]
            timed = per_call_us(partial(now.refuses, prompt), number, repeat)
            cells += [f"{timed:.1f}", _yes(now.refuses(prompt))]
            rows.append(cells)
    return rows, extra


def _yes(refused: bool) -> str:
    return "refused" if refused else "passes"


def report(rows: list[list[str]], extra: dict[str, float], *, command: str, baseline: str | None) -> str:
    head, align = ["prompt", "chars"], "lr"
    if baseline:
        head, align = [*head, f"`{baseline}` µs", f"`{baseline}`"], align + "rl"
    head, align = [*head, "now µs", "now"], align + "rl"
    return "\n".join(
        [
            f"- command: `{command}`",
            f"- machine: {machine()} (shared with other work: compare the columns of one run, not runs)",
            "- µs per `PromptModeration.refuses(prompt)` call, the default list, best of the repeats",
            f"- the list loaded at start-up (`PromptModeration.from_file`, best of the repeats): {extra['load_ms']:.1f} ms; the first "
            f"prompt outside ASCII that NFKD does not fold reads the confusables data once per process: "
            f"{extra['first_use_ms']:.0f} ms in all for that call",
            "",
            markdown_table(head, align, rows),
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--baseline", help="a git ref whose moderation to time beside the working tree's")
    parser.add_argument("--number", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--write", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    rows, extra = measure(args.baseline, args.number, args.repeat)
    text = report(rows, extra, command=command_line("bench.moderation", argv), baseline=args.baseline)
    print(text)
    if args.write:
        write_section(SECTION, SECTION_HEADING, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
