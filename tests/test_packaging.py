"""Function zips are byte-reproducible and content-addressed."""

from __future__ import annotations

import io
import os
import subprocess
import zipfile
from pathlib import Path

import pytest

from tests.conftest import PROJECT
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.packaging import FIXED_DATE, PackagingError, package


def copy_functions(destination: Path, umask: int, mtime: int) -> Path:
    """A copy of functions/ as another clone would have it: other folder, mtimes and umask."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    previous = os.umask(umask)
    try:
        subprocess.run(
            [
                "cp",
                "-r",
                "--no-preserve=mode,timestamps",
                str(PROJECT / "functions"),
                str(destination),
            ],
            check=True,
        )
    finally:
        os.umask(previous)
    for path in destination.rglob("*"):
        os.utime(path, (mtime, mtime))
    return destination.parent


def test_two_clones_give_identical_zips(tmp_path):
    first = copy_functions(tmp_path / "a" / "functions", umask=0o022, mtime=1_000_000_000)
    second = copy_functions(tmp_path / "b" / "functions", umask=0o077, mtime=1_700_000_000)
    (tmp_path / "b/functions/connect/__pycache__").mkdir(exist_ok=True)
    (tmp_path / "b/functions/connect/__pycache__/handler.cpython-311.pyc").write_bytes(b"x")
    for function in FUNCTIONS:
        one, other = package(first, function.name), package(second, function.name)
        assert one.data == other.data
        assert one.key == other.key == f"functions/{function.name}/{one.sha256}.zip"


def test_zip_entries_are_sorted_dated_and_normalised(tmp_path):
    root = copy_functions(tmp_path / "functions", umask=0o077, mtime=1_600_000_000)
    extra = tmp_path / "functions/connect"
    (extra / "zeta.py").write_text("VALUE = 1\n")
    (extra / "alpha.json").write_text("{}")
    (extra / "tests").mkdir()
    (extra / "tests/test_handler.py").write_text("def test(): pass\n")
    (extra / "test_local.py").write_text("def test(): pass\n")
    os.chmod(extra / "zeta.py", 0o700)
    archive = zipfile.ZipFile(io.BytesIO(package(root, "connect").data))
    names = archive.namelist()
    assert names == sorted(names)
    own = [name for name in names if "/" not in name]
    assert own == ["alpha.json", "handler.py", "zeta.py"]
    for info in archive.infolist():
        assert info.date_time == FIXED_DATE
        assert info.external_attr >> 16 == 0o100644


def test_key_changes_exactly_when_the_code_does(tmp_path):
    root = copy_functions(tmp_path / "functions", umask=0o022, mtime=1_600_000_000)
    before = {f.name: package(root, f.name).key for f in FUNCTIONS}
    handler = root / "functions/response/handler.py"
    handler.write_text(handler.read_text() + "\n# changed\n")
    after = {f.name: package(root, f.name).key for f in FUNCTIONS}
    assert [name for name in before if before[name] != after[name]] == ["response"]


def test_shared_packages_are_included_only_where_imported(tmp_path):
    root = copy_functions(tmp_path / "functions", umask=0o022, mtime=1_600_000_000)
    shared = root / "functions/extra_shared"
    shared.mkdir()
    (shared / "__init__.py").write_text("")
    (shared / "colours.py").write_text("RED = 1\n")
    handler = root / "functions/connect/handler.py"
    handler.write_text(handler.read_text() + "\nfrom extra_shared import colours  # noqa\n")
    connect = zipfile.ZipFile(io.BytesIO(package(root, "connect").data)).namelist()
    disconnect = zipfile.ZipFile(io.BytesIO(package(root, "disconnect").data)).namelist()
    assert "extra_shared/colours.py" in connect and "extra_shared/__init__.py" in connect
    assert not [name for name in disconnect if name.startswith("extra_shared/")]
    # Every function imports the tunnel's own shared package, and so ships it.
    assert "tunnel_shared/protocol.py" in disconnect


def test_missing_function_is_named(tmp_path):
    (tmp_path / "functions").mkdir()
    with pytest.raises(PackagingError, match=r"function 'ghost': .*functions/ghost/handler.py"):
        package(tmp_path, "ghost")


def test_code_that_does_not_compile_is_named_with_its_line(tmp_path):
    root = copy_functions(tmp_path / "functions", umask=0o022, mtime=1_600_000_000)
    (root / "functions/forwarding/handler.py").write_text("def handler(:\n")
    with pytest.raises(
        PackagingError, match=r"function 'forwarding' does not compile: .*handler.py:1"
    ):
        package(root, "forwarding")


def test_real_functions_package():
    for function in FUNCTIONS:
        artifact = package(PROJECT, function.name)
        assert "handler.py" in zipfile.ZipFile(io.BytesIO(artifact.data)).namelist()
