"""Shared test setup."""

import sys

import pytest


@pytest.fixture(autouse=True)
def keep_main_module():
    """Streamlit's AppTest runs its script as ``__main__`` and leaves it there; a trainer
    pool started later in the same process would have its forkserver import that
    temporary script as the main module (and fail). Put the real one back."""
    main = sys.modules.get("__main__")
    yield
    if main is not None:
        sys.modules["__main__"] = main
