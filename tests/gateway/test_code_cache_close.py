"""A closed CodeCache is gone for good: its folder removed, and nothing can make it again (a
fetch still running on another thread when Ctrl-C stops a start must not bring it back)."""

from __future__ import annotations

import pytest

from local_gateway.function_code import CodeCache, CodeUnavailable


def test_close_removes_the_folder_and_no_fetch_makes_it_again():
    cache = CodeCache()
    root = cache.root
    (root / "forwarding").mkdir()
    cache.close()
    assert not root.exists()
    with pytest.raises(CodeUnavailable, match="stopping"):
        _ = cache.root
    assert not root.exists()
