"""Checkov suppressions, written into the resource's Metadata with the reason beside them."""

from __future__ import annotations

from troposphere import AWSObject


def skip_checkov(resource: AWSObject, check_id: str, reason: str) -> AWSObject:
    """Record why a checkov check does not apply to this resource; checkov prints the reason."""
    metadata = dict(getattr(resource, "Metadata", {}) or {})
    skips = list(metadata.get("checkov", {}).get("skip", []))
    skips.append({"id": check_id, "comment": reason})
    metadata["checkov"] = {"skip": sorted(skips, key=lambda skip: skip["id"])}
    resource.Metadata = metadata
    return resource
