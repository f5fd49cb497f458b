"""Step 1 needs no server logic: both peer connections live in one page. This serves its files."""

from pathlib import Path

from common.app import create_app

OPEN_HINT = "and press Start."


def create():
    return create_app(Path(__file__).parent)
