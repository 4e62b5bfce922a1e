"""Where the local stack is as strict as AWS and moto is not: ``aws_fidelity.rules``; and the
small facts about AWS that several tools need alike (``sigv4``, ``lambda_code``); and, not AWS
behaviour but shared the same way, how the emulator and the local gateway refuse web pages
(``browser_guard``).

Standard library only: the emulator (its own virtualenv), the local gateway, the preflight
hook, the settings and ``make sync`` all import it, and none of them imports another for it.
"""
