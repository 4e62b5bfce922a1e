"""Sceptre resolvers of this project, registered as entry points in setup.cfg."""
