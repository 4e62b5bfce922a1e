"""``make deploy`` prints the DNS record a custom domain needs, as a launch's ``!dns_record`` hook
does: executing change sets runs no Sceptre hook.

dev launched without a domain on an emulator of its own, the user's hosted zone, then
``custom_domain`` set and the change reviewed and deployed (``python -m review plan|deploy``)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import pytest

from hooks.dns_record import instruction
from tests.local.conftest import LocalProject, project_on_its_own_emulator

DOMAIN = "tunnel.test"
EXAMPLE = """  # custom_domain:
  #   domain_name: tunnel.example.com
  #   hosted_zone_id: Z0123456789ABCDEFGHIJ
"""


def review(project: LocalProject, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "review", *args, "--no-colour"],
        cwd=project.root,
        env=project.environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProject]:
    with project_on_its_own_emulator(tmp_path_factory, "deploy-dns") as project:
        yield project


def test_deploying_the_domain_stack_prints_its_dns_record(project):
    launch = project.sceptre("launch", "-y", "dev")
    assert launch.returncode == 0, launch.output
    zone = project.client("route53").create_hosted_zone(Name=f"{DOMAIN}.", CallerReference="z")
    zone_id = zone["HostedZone"]["Id"].rsplit("/", 1)[-1]
    config = project.root / "config/dev/config.yaml"
    assert EXAMPLE in config.read_text()
    config.write_text(
        config.read_text().replace(
            EXAMPLE,
            f"  custom_domain:\n    domain_name: {DOMAIN}\n    hosted_zone_id: {zone_id}\n",
        )
    )
    outputs: list[str] = []
    for _ in range(4):
        plan = review(project, "plan", "dev", "--approve-broadening")
        assert plan.returncode == 0, plan.stdout + plan.stderr
        deploy = review(project, "deploy", "dev")
        outputs.append(deploy.stdout + deploy.stderr)
        # A stack whose upstream outputs changed in this round is refused: the next round.
        assert deploy.returncode == 0 or "review again" in outputs[-1], outputs[-1]
        if "dev/domain: CREATE_COMPLETE" in outputs[-1]:
            break
    deployed = outputs[-1]
    assert "dev/domain: CREATE_COMPLETE" in deployed, outputs
    described = project.client("cloudformation").describe_stacks(
        StackName="http-tunnel-dev-domain"
    )["Stacks"][0]
    expected = instruction({o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]})
    assert expected is not None and expected.startswith(f"DNS: *.{DOMAIN} is an alias to ")
    assert expected in deployed.splitlines()
    assert "Traceback" not in deployed
