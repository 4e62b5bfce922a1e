"""Builders, one module per AWS service, that hold the mechanics the template entry files share."""
