"""The rendered templates are reviewed snapshots: a change to any template shows in the diff."""

from __future__ import annotations

from tests.conftest import PROJECT
from tunnel_infra.render import ENVIRONMENTS, render_all

SNAPSHOTS = PROJECT / "tests" / "snapshots"


def test_every_stack_of_every_environment_renders(rendered):
    groups = {name.split("/")[0] for name in rendered}
    assert groups == {*ENVIRONMENTS, "account"}
    assert [n for n in rendered if n.startswith("account/")] == ["account/api-gateway-logging"]
    for environment in ENVIRONMENTS:
        stacks = {n.split("/")[1] for n in rendered if n.startswith(f"{environment}/")}
        assert {
            "keys",
            "artifacts",
            "tables",
            "apis",
            "functions",
            "routes",
            "monitoring",
        } <= stacks
    assert "prod/domain" in rendered
    assert "dev/domain" not in rendered and "staging/domain" not in rendered


def test_rendered_templates_match_the_reviewed_snapshots(rendered):
    on_disk = {
        path.relative_to(SNAPSHOTS).with_suffix("").as_posix(): path.read_text()
        for path in sorted(SNAPSHOTS.rglob("*.yaml"))
    }
    assert sorted(on_disk) == sorted(rendered), "stacks differ: run `make snapshots` and review"
    changed = [name for name in rendered if rendered[name] != on_disk[name]]
    assert not changed, f"templates changed: {changed}; run `make snapshots` and review the diff"


def test_rendering_is_byte_stable(rendered):
    assert render_all(PROJECT) == rendered
