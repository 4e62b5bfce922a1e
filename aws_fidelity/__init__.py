"""Where the local stack is as strict as AWS and moto is not: ``aws_fidelity.rules``.

Standard library only: the emulator (its own virtualenv), the local gateway, the preflight
hook and the settings all import it, and none of them imports another for it.
"""
