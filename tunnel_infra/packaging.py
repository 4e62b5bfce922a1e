"""Byte-reproducible, content-addressed zips of the functions in ``functions/``.

The same sources give the same bytes whatever the folder, mtimes or umask: entries are sorted,
timestamps fixed, permissions normalised (0644, or 0755 for a script: a file that starts with
``#!``), and caches and tests left out. The S3 key is the
SHA-256 of those bytes, so the key changes exactly when the code does.

A function's ``requirements.txt``, if it has one, is vendored into its zip for the Lambda
architecture, as manylinux wheels only; the vendored tree is cached under ``build/vendor/`` by a
hash of the requirements and the architecture.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

FIXED_DATE = (1980, 1, 1, 0, 0, 0)
FILE_MODE = 0o100644 << 16
# A script (its first bytes are "#!") is executable in the zip, whatever the checkout's mode bits:
# Lambda runs an exec wrapper (AWS_LAMBDA_EXEC_WRAPPER) only if it can execute it.
SCRIPT_MODE = 0o100755 << 16
COMPRESS_LEVEL = 9
EXCLUDED_DIRS = {"__pycache__", "tests", ".pytest_cache", "bin"}
EXCLUDED_SUFFIXES = {".pyc", ".pyo"}
LAMBDA_PYTHON = "3.12"  # the python3.12 runtime
PLATFORMS = {"x86_64": "manylinux2014_x86_64", "arm64": "manylinux2014_aarch64"}


class PackagingError(Exception):
    """A function cannot be packaged; the message names the function and the cause."""


@dataclass(frozen=True)
class Artifact:
    name: str
    data: bytes

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    @property
    def key(self) -> str:
        return f"functions/{self.name}/{self.sha256}.zip"


def functions_root(project_path: Path) -> Path:
    return project_path / "functions"


# Every stack's hook and the resolver package the same functions in one Sceptre run: zip each
# once per state of functions/ (paths, sizes and mtimes of its files).
_packed: dict[tuple[object, ...], Artifact] = {}


def package(project_path: Path, name: str, architecture: str = "x86_64") -> Artifact:
    """Zip ``functions/<name>/``, the shared packages it imports and its vendored requirements."""
    root = functions_root(project_path)
    state = (str(root.resolve()), name, architecture, _tree_state(root))
    if state not in _packed:
        _packed[state] = _package(project_path, name, architecture)
    return _packed[state]


def _tree_state(root: Path) -> tuple[tuple[str, int, int], ...]:
    if not root.is_dir():
        return ()
    found = []
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            found.append((str(path), stat.st_mtime_ns, stat.st_size))
    return tuple(found)


def _package(project_path: Path, name: str, architecture: str) -> Artifact:
    root = functions_root(project_path)
    source = root / name
    if not (source / "handler.py").is_file():
        raise PackagingError(f"function {name!r}: {source}/handler.py does not exist")
    if architecture not in PLATFORMS:
        raise PackagingError(f"function {name!r}: unknown architecture {architecture!r}")
    files: dict[str, Path] = {}
    requirements = source / "requirements.txt"
    if requirements.is_file():
        vendored = _vendor(project_path, name, requirements, architecture)
        files.update({p.relative_to(vendored).as_posix(): p for p in _sources(vendored)})
    own = {path.relative_to(source).as_posix(): path for path in _sources(source)}
    own.pop("requirements.txt", None)
    for shared in sorted(_shared_imports(root, source)):
        for path in _sources(root / shared):
            own[path.relative_to(root).as_posix()] = path
    for path in own.values():
        if path.suffix == ".py":
            _check_compiles(name, path)
    files.update(own)  # the function's own code wins over a vendored module of the same name
    return Artifact(name, _zip(files))


def _vendor(project_path: Path, name: str, requirements: Path, architecture: str) -> Path:
    """Install the requirements as Lambda wheels once per (requirements, architecture)."""
    digest = hashlib.sha256(requirements.read_bytes() + architecture.encode()).hexdigest()[:16]
    target = project_path / "build" / "vendor" / f"{name}-{architecture}-{digest}"
    if (target / ".complete").is_file():
        return target
    partial = target.with_name(target.name + f".partial-{os.getpid()}")
    command = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-compile",
        "--only-binary=:all:",
        "--platform",
        PLATFORMS[architecture],
        "--python-version",
        LAMBDA_PYTHON,
        "--implementation",
        "cp",
        "--target",
        str(partial),
        "-r",
        str(requirements),
    ]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        last = (result.stderr.strip().splitlines() or ["pip failed"])[-1]
        raise PackagingError(f"function {name!r}: cannot vendor {requirements.name}: {last}")
    (partial / ".complete").write_text(digest)
    try:
        os.replace(partial, target)  # atomic: parallel hooks never see half a tree
    except OSError:  # another hook finished the same tree first
        shutil.rmtree(partial, ignore_errors=True)
    return target


def _sources(folder: Path) -> list[Path]:
    return sorted(
        path
        for path in folder.rglob("*")
        if path.is_file()
        and not EXCLUDED_DIRS.intersection(path.relative_to(folder).parts[:-1])
        and path.suffix not in EXCLUDED_SUFFIXES
        and not path.name.startswith("test_")
        and path.name != ".complete"
    )


def _shared_imports(root: Path, source: Path) -> set[str]:
    """Top-level packages of ``functions/`` (folders with ``__init__.py``) the code imports."""
    shared = {folder.name for folder in root.iterdir() if (folder / "__init__.py").is_file()}
    found: set[str] = set()
    queue = [source]
    while queue:
        folder = queue.pop()
        for path in _sources(folder):
            if path.suffix != ".py":
                continue
            for module in _imported_modules(path):
                top = module.split(".")[0]
                if top in shared and top not in found:
                    found.add(top)
                    queue.append(root / top)
    return found


def _imported_modules(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError:
        return []  # reported by _check_compiles with the function's name
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.append(node.module)
    return modules


def _check_compiles(name: str, path: Path) -> None:
    try:
        compile(path.read_bytes(), str(path), "exec", dont_inherit=True)
    except SyntaxError as error:
        raise PackagingError(
            f"function {name!r} does not compile: {path}:{error.lineno}: {error.msg}"
        ) from None
    except ValueError as error:  # e.g. null bytes
        raise PackagingError(f"function {name!r} does not compile: {path}: {error}") from None


def _zip(files: dict[str, Path]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for arcname in sorted(files):
            info = zipfile.ZipInfo(arcname, date_time=FIXED_DATE)
            data = files[arcname].read_bytes()
            info.external_attr = SCRIPT_MODE if data.startswith(b"#!") else FILE_MODE
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # Unix, whatever builds it
            archive.writestr(info, data, compresslevel=COMPRESS_LEVEL)
    return buffer.getvalue()
