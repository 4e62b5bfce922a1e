"""Code shared by the tunnel's functions and its agent: the wire protocol, tokens and limits.

Standard library only: it ships inside every function zip that imports it, and in the
installed ``tunnel`` command.
"""
