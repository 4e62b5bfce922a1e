"""Every resource type the templates use is one the emulator really creates.

moto's CloudFormation marks unknown types CREATE_COMPLETE without creating anything; a new type
in a template must come with an emulator provider, or this fails.
"""

from __future__ import annotations

from emulator.providers import SUPPORTED_TYPES


def test_emulator_really_creates_every_rendered_resource_type(templates):
    used = {
        resource["Type"]
        for template in templates.values()
        for resource in template["Resources"].values()
    }
    assert used, "no resources rendered"
    missing = sorted(used - set(SUPPORTED_TYPES))
    assert not missing, (
        f"the emulator cannot create {missing}: add a provider in emulator/providers/"
    )
