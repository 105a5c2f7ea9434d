"""Ship compiled bytecode in a Lambda deployment package (``make package`` runs this).

Lambda's filesystem is read-only, so Python can never cache the bytecode of a module it imports
there: without ``.pyc`` files in the package, every cold start compiles every module it imports
(ours and the dependencies' alike), which was a large share of the measured cold start
(``bench/coldstart.py``). ``chalice package`` zips sources only; this adds, next to each ``.py``,
its ``__pycache__/<name>.cpython-311.pyc``.

The files are *unchecked hash-based* pycs (PEP 552): Python loads them without comparing them to
the source's modification time, which a zip does not keep exactly (2-second resolution) and which
the package's own rebuild would change anyway. They are correct because they are built from the
very bytes next to them, by the same Python version as the runtime (checked here: the magic number
of another version would simply be ignored, and the gain lost).

Usage: ``python infra/precompile.py build/package/<stage>/deployment.zip`` (the functions' runtime
is read from the ``sam.yaml`` beside it).
"""

from __future__ import annotations

import argparse
import importlib.util
import marshal
import os
import re
import sys
import tempfile
import zipfile
from pathlib import Path

UNCHECKED_HASH_FLAGS = 0b01  # hash-based, source not checked (PEP 552)


def pyc_bytes(source: bytes, filename: str) -> bytes:
    """The ``.pyc`` of ``source`` as Python would write it, as an unchecked hash-based pyc."""
    code = compile(source, filename, "exec", dont_inherit=True)
    return (
        importlib.util.MAGIC_NUMBER
        + UNCHECKED_HASH_FLAGS.to_bytes(4, "little")
        + importlib.util.source_hash(source)
        + marshal.dumps(code)
    )


def cached_name(py_name: str) -> str:
    """``pkg/mod.py`` -> ``pkg/__pycache__/mod.cpython-311.pyc`` (this interpreter's tag)."""
    folder, _, name = py_name.rpartition("/")
    stem = name[: -len(".py")]
    cached = f"__pycache__/{stem}.{sys.implementation.cache_tag}.pyc"
    return f"{folder}/{cached}" if folder else cached


def precompile(package: Path, *, root: str = "/var/task") -> int:
    """Rewrite ``package`` with a pyc beside every module that compiles; returns how many.

    ``root`` is where Lambda unpacks the package: tracebacks name ``/var/task/chalicelib/...``.
    A module that does not compile under this Python (a vendored file for another version, a
    test fixture) is shipped as it was, without a pyc.
    """
    with zipfile.ZipFile(package) as original:
        entries = [(info, original.read(info)) for info in original.infolist()]
    added = 0
    handle, temporary = tempfile.mkstemp(suffix=".zip", dir=package.parent)
    os.close(handle)
    try:
        with zipfile.ZipFile(temporary, "w", compression=zipfile.ZIP_DEFLATED) as rebuilt:
            for info, data in entries:
                if info.filename.endswith(".pyc"):
                    continue  # rebuilt below from the source beside it, never trusted as found
                rebuilt.writestr(info, data)
                if not info.filename.endswith(".py"):
                    continue
                target = cached_name(info.filename)
                try:
                    compiled = pyc_bytes(data, f"{root}/{info.filename}")
                except (SyntaxError, ValueError):
                    continue
                pyc = zipfile.ZipInfo(target, date_time=info.date_time)
                pyc.compress_type = zipfile.ZIP_DEFLATED
                pyc.external_attr = 0o644 << 16
                rebuilt.writestr(pyc, compiled)
                added += 1
        os.chmod(temporary, package.stat().st_mode & 0o777)  # mkstemp's file is private
        os.replace(temporary, package)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
    return added


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="the deployment.zip that chalice package wrote")
    args = parser.parse_args(argv)
    here = f"python{sys.version_info.major}.{sys.version_info.minor}"
    runtimes = set(re.findall(r"Runtime:\s*(python3\.\d+)", (args.package.parent / "sam.yaml").read_text()))
    if runtimes != {here}:
        print(f"precompile: this is {here}, the functions run {sorted(runtimes)}: bytecode not added")
        return 0
    added = precompile(args.package)
    print(f"precompile: {added} modules compiled into {args.package}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
