"""checkov's CloudFormation checks on template files, for ``tunnel_infra.lint``.

Runs in checkov's own virtualenv, so it imports nothing from this project. It calls checkov's
CloudFormation runner directly: the ``checkov`` command first imports a runner for every
framework it knows, which doubled the time of a scan here.

    .venv-checkov/bin/python tunnel_infra/checkov_scan.py TEMPLATE...
"""

from __future__ import annotations

import os
import sys

# Offline: without these, checkov first tries to reach its vendor's API.
os.environ.setdefault("BC_SKIP_MAPPING", "TRUE")
os.environ.setdefault("BC_SKIP_DOWNLOAD", "TRUE")

from checkov.cloudformation.runner import Runner  # noqa: E402
from checkov.runner_filter import RunnerFilter  # noqa: E402


def main(files: list[str]) -> int:
    report = Runner().run(
        root_folder=None, files=files, runner_filter=RunnerFilter(framework=["cloudformation"])
    )
    for check in report.failed_checks:
        print(f"{check.check_id} {check.check_name}\n  {check.file_path} {check.resource}")
    for error in report.parsing_errors:
        print(f"cannot parse {error}")
    summary = report.get_summary()
    print(
        f"checkov {summary['checkov_version']}: {summary['passed']} passed, "
        f"{summary['failed']} failed, {summary['skipped']} skipped (reasons in Metadata)"
    )
    return 1 if report.failed_checks or report.parsing_errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
