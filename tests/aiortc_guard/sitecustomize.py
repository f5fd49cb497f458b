"""Loaded by Python at start-up in every process the tests start (they put this folder on
PYTHONPATH): see ice_guard.py, and frame_tap.py (only with FRAME_TAP_DIR set)."""

import frame_tap
import ice_guard

ice_guard.install()
frame_tap.install()
