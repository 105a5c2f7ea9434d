"""infra/precompile.py: the deployment package carries bytecode that Python loads as it is."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from infra.precompile import cached_name, main, precompile

SAM = "Resources:\n  Fn:\n    Properties:\n      Runtime: python{v}\n"


def package(tmp_path: Path, files: dict[str, str], runtime: str | None = None) -> Path:
    zip_path = tmp_path / "deployment.zip"
    with zipfile.ZipFile(zip_path, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    version = runtime or f"{sys.version_info.major}.{sys.version_info.minor}"
    (tmp_path / "sam.yaml").write_text(SAM.format(v=version))
    return zip_path


def test_every_module_gets_an_unchecked_pyc_that_python_loads_without_its_source(tmp_path: Path) -> None:
    zip_path = package(
        tmp_path,
        {
            "app.py": "from pkg.mod import VALUE\n",
            "pkg/__init__.py": "",
            "pkg/mod.py": "VALUE = 'compiled'\n",
            "pkg/data.json": "{}",
            "broken.py": "def (:\n",  # ships as it is, without a pyc
        },
    )
    assert precompile(zip_path) == 3
    with zipfile.ZipFile(zip_path) as z:
        names = set(z.namelist())
        assert cached_name("pkg/mod.py") in names and cached_name("app.py") in names
        assert cached_name("broken.py") not in names
        assert {"pkg/data.json", "broken.py"} <= names
        z.extractall(tmp_path / "task")
    # The source changes after the build: an unchecked pyc is still what runs (no stat, no compile).
    (tmp_path / "task" / "pkg" / "mod.py").write_text("VALUE = 'source'\n")
    loaded = subprocess.run(
        [sys.executable, "-c", "import app; print(app.VALUE)"],
        cwd=tmp_path / "task",
        env={"PYTHONDONTWRITEBYTECODE": "1", "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert loaded.stdout.strip() == "compiled"


def test_tracebacks_name_the_lambda_path_and_rebuilding_replaces_old_pycs(tmp_path: Path) -> None:
    zip_path = package(tmp_path, {"mod.py": "x = 1\n"})
    assert precompile(zip_path) == 1
    assert precompile(zip_path) == 1  # again: the pyc is rebuilt from the source, not duplicated
    with zipfile.ZipFile(zip_path) as z:
        assert z.namelist().count(cached_name("mod.py")) == 1
        pyc = z.read(cached_name("mod.py"))
    assert b"/var/task/mod.py" in pyc


def test_a_package_for_another_python_is_left_alone(tmp_path: Path) -> None:
    zip_path = package(tmp_path, {"mod.py": "x = 1\n"}, runtime="3.99")
    assert main([str(zip_path)]) == 0
    with zipfile.ZipFile(zip_path) as z:
        assert z.namelist() == ["mod.py"]
