"""Loaded by Python at start-up in every process the tests start (they put this folder on
PYTHONPATH): see ice_guard.py."""

import ice_guard

ice_guard.install()
