"""``make bench``: render, lint, packaging and launches, measured side by side in one run.

Every figure is the median of several runs of a whole process (or, for packaging, of a call),
on this machine, now; the machines are shared and noisy, so compare the figures of one run, not
figures across runs. Launches use a copy of the project and an emulator of their own.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from emulator import process
from tunnel_infra.functions import FUNCTIONS
from tunnel_infra.packaging import package

PROJECT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def run(command: list[str], cwd: Path = PROJECT, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{result.stdout}{result.stderr}")


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="runs per offline figure")
    parser.add_argument("--launches", type=int, default=3, help="runs per launch figure")
    args = parser.parse_args(argv)
    rows: list[tuple[str, list[float], str]] = []
    out = Path(tempfile.mkdtemp(prefix="bench-render-"))

    render = [str(BIN / "python"), "-m", "tunnel_infra.render", str(out)]
    run(render)  # also counts the stacks
    stacks = len(list(out.rglob("*.yaml")))
    rows.append(
        (
            f"render: 3 environments, {stacks} stacks",
            [timed(lambda: run(render)) for _ in range(args.repeat)],
            "target <= 1.5 s",
        )
    )
    lint_all = [str(BIN / "python"), "-m", "tunnel_infra.lint", "--all", str(out)]
    lint = [str(BIN / "python"), "-m", "tunnel_infra.lint", str(out)]
    rows.append(
        (
            f"lint, cold: cfn-lint + checkov on all {stacks}",
            [timed(lambda: run(lint_all)) for _ in range(max(1, args.repeat // 2))],
            "",
        )
    )
    rows.append(
        (
            "pre-commit round, cold: render + lint --all",
            [timed(lambda: (run(render), run(lint_all))) for _ in range(max(1, args.repeat // 2))],
            "target <= 8 s",
        )
    )
    rows.append(
        (
            "pre-commit round, nothing changed",
            [timed(lambda: (run(render), run(lint))) for _ in range(args.repeat)],
            "target <= 8 s",
        )
    )
    rows.append(
        (
            "packaging: 5 functions, in process",
            [
                timed(lambda: [package(PROJECT, f.name) for f in FUNCTIONS])
                for _ in range(args.repeat)
            ],
            "",
        )
    )

    rows.extend(launch_rows(args.launches))
    shutil.rmtree(out, ignore_errors=True)

    print(f"\n{'measure':<48} {'median':>9} {'min':>8} {'max':>8}  runs  note")
    for name, samples, note in rows:
        print(
            f"{name:<48} {median(samples):>8.2f}s {min(samples):>7.2f}s {max(samples):>7.2f}s"
            f"  {len(samples):>4}  {note}"
        )
    cold = dict((n, s) for n, s, _ in rows)
    if "launch dev, cold" in cold and "relaunch dev, no change" in cold:
        ratio = median(cold["launch dev, cold"]) / median(cold["relaunch dev, no change"])
        print(f"\ncold launch / no-op relaunch: {ratio:.1f}x")
    if (
        "relaunch dev, one function changed" in cold
        and "code_sync dev, one function changed" in cold
    ):
        launch = median(cold["relaunch dev, one function changed"])
        ratio = median(cold["code_sync dev, one function changed"]) / launch
        print(f"code sync / launch, one function changed: {ratio:.2f} (target <= 0.25)")
    return 0


def launch_rows(launches: int) -> list[tuple[str, list[float], str]]:
    root = Path(tempfile.mkdtemp(prefix="bench-project-"))
    for folder in ("config", "templates", "functions"):
        shutil.copytree(PROJECT / folder, root / folder)
    handle = process.start()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(root),
        **process.client_environment(handle.url),
    }
    sceptre = [str(BIN / "sceptre"), "--no-colour"]
    code_sync = [str(BIN / "python"), "-m", "tunnel_infra.code_sync", "dev"]
    cold, noop, change, synced = [], [], [], []
    try:
        for attempt in range(launches):
            cold.append(timed(lambda: run([*sceptre, "launch", "-y", "dev"], root, env)))
            noop.append(timed(lambda: run([*sceptre, "launch", "-y", "dev"], root, env)))
            handler = root / "functions/response/handler.py"
            handler.write_text(handler.read_text() + f"\n# change {attempt}\n")
            change.append(timed(lambda: run([*sceptre, "launch", "-y", "dev"], root, env)))
            # The same change, through code sync: one function's code, no stack update.
            handler.write_text(handler.read_text() + f"\n# synced {attempt}\n")
            synced.append(timed(lambda: run(code_sync, root, env)))
            run([*sceptre, "delete", "-y", "dev"], root, env)
    finally:
        process.stop(handle)
        shutil.rmtree(root, ignore_errors=True)
    return [
        ("launch dev, cold", cold, "3 layers; Sceptre polls every 4 s"),
        ("relaunch dev, no change", noop, "no uploads, no updates"),
        ("relaunch dev, one function changed", change, "1 upload, functions stack only"),
        ("code_sync dev, one function changed", synced, "1 upload, 1 UpdateFunctionCode"),
    ]


if __name__ == "__main__":
    sys.exit(main())
