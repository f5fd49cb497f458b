"""No aiortc connection in the tests asks a public STUN server.

aiortc gives a connection made without `iceServers` a default one, stun:stun.l.google.com:19302,
and looks its name up: a test run that reaches for the internet. `install()` makes such a
connection fail at once, saying so, and lists it in `made_without_ice_servers`. tests/conftest.py
installs it in the test process, and puts this folder on PYTHONPATH so that sitecustomize.py
installs it in every Python process the tests start (servers, `python -m common.peer`, pytest-xdist
workers). Both import it by the one name `ice_guard`, so that a process has one record.

The check waits for aiortc to be imported: a process that never makes a connection pays nothing.
"""

import importlib.abc
import sys

MODULE = "aiortc.rtcicetransport"
MESSAGE = (
    "an aiortc connection was made without iceServers, so aiortc would add its default public "
    "STUN server: pass RTCConfiguration(iceServers=[...]), [] on loopback"
)
made_without_ice_servers = []


def refuse_default_ice_servers():
    made_without_ice_servers.append(MESSAGE)
    raise RuntimeError(MESSAGE)


def guard(module):
    module.RTCIceGatherer.getDefaultIceServers = staticmethod(refuse_default_ice_servers)


class GuardOnImport(importlib.abc.MetaPathFinder):
    """Finds aiortc's ICE module with the other finders, and guards it once it has run."""

    def find_spec(self, name, path=None, target=None):
        if name != MODULE:
            return None
        for finder in sys.meta_path:
            spec = None if is_guard(finder) else finder.find_spec(name, path, target)
            if spec is not None:
                spec.loader.exec_module = run_then_guard(spec.loader.exec_module)
                return spec
        return None


def run_then_guard(exec_module):
    def run(module):
        exec_module(module)
        guard(module)

    return run


def is_guard(finder):
    return type(finder).__name__ == GuardOnImport.__name__


def install():
    if MODULE in sys.modules:
        guard(sys.modules[MODULE])
    elif not any(is_guard(finder) for finder in sys.meta_path):
        sys.meta_path.insert(0, GuardOnImport())
