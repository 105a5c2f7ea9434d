"""Refuse a deployment package whose native libraries need a newer glibc than the Lambda runtime's.

``chalice package`` takes the ``manylinux`` wheel of each dependency that Lambda can load; when a
version has none (Pillow 13 ships ``manylinux_2_28`` wheels only), it builds the sdist on this
machine instead, and the package then carries libraries linked against this machine's glibc. The
``python3.11`` runtime runs on Amazon Linux 2, whose glibc is 2.26: such a library fails to import
there, and every cold start with it. ``make package`` runs this after ``chalice package``.

The glibc versions a shared object needs are the ``GLIBC_2.N`` names of its version requirements
(the ``.gnu.version_r`` section names them in ``.dynstr``); the highest one must not pass the
runtime's.

Usage: ``python infra/check_glibc.py build/package/<stage>/deployment.zip`` (the functions' runtime
is read from the ``sam.yaml`` beside it).
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from pathlib import Path

# The glibc of each Lambda Python runtime's operating system (AWS Lambda runtimes documentation:
# python3.9-3.11 on Amazon Linux 2, python3.12 and later on Amazon Linux 2023).
RUNTIME_GLIBC = {
    "python3.9": (2, 26),
    "python3.10": (2, 26),
    "python3.11": (2, 26),
    "python3.12": (2, 34),
    "python3.13": (2, 34),
}
_ELF_MAGIC = b"\x7fELF"
_GLIBC_VERSION = re.compile(rb"GLIBC_(\d+)\.(\d+)(?:\.\d+)?\x00")
_SHARED_OBJECT = re.compile(r"\.so(\.\d+)*$")


def needed_glibc(data: bytes) -> tuple[int, int] | None:
    """The highest glibc version an ELF shared object names, or None (not ELF, or no glibc)."""
    if not data.startswith(_ELF_MAGIC):
        return None
    versions = [(int(major), int(minor)) for major, minor in _GLIBC_VERSION.findall(data)]
    return max(versions) if versions else None


def too_new(package: Path, limit: tuple[int, int]) -> dict[str, tuple[int, int]]:
    """Every shared object in the zip that needs a glibc newer than ``limit``, with what it needs."""
    found: dict[str, tuple[int, int]] = {}
    with zipfile.ZipFile(package) as archive:
        for name in archive.namelist():
            if not _SHARED_OBJECT.search(name.rsplit("/", 1)[-1]):
                continue
            needed = needed_glibc(archive.read(name))
            if needed is not None and needed > limit:
                found[name] = needed
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("package", type=Path, help="the deployment.zip that chalice package wrote")
    args = parser.parse_args(argv)
    runtimes = set(re.findall(r"Runtime:\s*(python3\.\d+)", (args.package.parent / "sam.yaml").read_text()))
    unknown = runtimes - RUNTIME_GLIBC.keys()
    if unknown or not runtimes:
        print(f"check_glibc: no known glibc for the runtimes {sorted(unknown or runtimes)}", file=sys.stderr)
        return 1
    limit = min(RUNTIME_GLIBC[runtime] for runtime in runtimes)
    offenders = too_new(args.package, limit)
    for name, (major, minor) in sorted(offenders.items()):
        print(
            f"check_glibc: {name} needs glibc {major}.{minor}; the runtime has "
            f"{limit[0]}.{limit[1]} (pin a version of its project with a manylinux wheel Lambda can load)",
            file=sys.stderr,
        )
    if offenders:
        return 1
    print(f"check_glibc: every native library of {args.package} loads on glibc {limit[0]}.{limit[1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
