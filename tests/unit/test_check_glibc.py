"""infra/check_glibc.py: a deployment package with a library built for a newer glibc is refused."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from infra.check_glibc import main, needed_glibc, too_new


def elf(*versions: str) -> bytes:
    """The bytes of a shared object whose version requirements name ``versions``."""
    names = b"".join(f"{version}\x00".encode() for version in versions)
    return b"\x7fELF\x02\x01\x01" + b"\x00" * 57 + b"libc.so.6\x00" + names


def package(tmp_path: Path, files: dict[str, bytes], runtime: str = "python3.11") -> Path:
    zip_path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(zip_path, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    (tmp_path / "sam.yaml").write_text(f"Resources:\n  Api:\n    Properties:\n      Runtime: {runtime}\n")
    return zip_path


def test_the_highest_glibc_version_named_is_the_one_needed() -> None:
    assert needed_glibc(elf("GLIBC_2.2.5", "GLIBC_2.17", "GLIBC_2.14")) == (2, 17)
    assert needed_glibc(b"not an ELF file GLIBC_2.34\x00") is None
    assert needed_glibc(elf()) is None


def test_a_library_built_on_a_newer_glibc_is_refused_on_python311(tmp_path: Path) -> None:
    # What chalice package shipped for Pillow 13 (manylinux_2_28 wheels only): built here, glibc 2.34.
    zip_path = package(
        tmp_path,
        {
            "PIL/_imaging.cpython-311-x86_64-linux-gnu.so": elf("GLIBC_2.2.5", "GLIBC_2.34"),
            "pydantic_core/_pydantic_core.cpython-311-x86_64-linux-gnu.so": elf("GLIBC_2.17"),
            "pillow.libs/libjpeg-1.so.62.4.0": elf("GLIBC_2.14"),
        },
    )
    assert too_new(zip_path, (2, 26)) == {"PIL/_imaging.cpython-311-x86_64-linux-gnu.so": (2, 34)}
    assert main([str(zip_path)]) == 1


def test_manylinux2014_libraries_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    zip_path = package(tmp_path, {"PIL/_imaging.cpython-311-x86_64-linux-gnu.so": elf("GLIBC_2.17")})
    assert main([str(zip_path)]) == 0
    assert "glibc 2.26" in capsys.readouterr().out


def test_python312_runs_on_a_newer_glibc(tmp_path: Path) -> None:
    zip_path = package(
        tmp_path, {"PIL/_imaging.cpython-312-x86_64-linux-gnu.so": elf("GLIBC_2.34")}, runtime="python3.12"
    )
    assert main([str(zip_path)]) == 0


def test_an_unknown_runtime_is_an_error(tmp_path: Path) -> None:
    assert main([str(package(tmp_path, {}, runtime="python3.99"))]) == 1
