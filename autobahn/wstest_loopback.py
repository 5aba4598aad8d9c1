# Python 2.7: runs Autobahn's wstest with every listener bound to 127.0.0.1
# (wstest binds all interfaces; our tests stay on loopback). Usage: as wstest.
import sys

from twisted.internet import reactor

_listen_tcp = reactor.listenTCP
_listen_ssl = reactor.listenSSL


def _tcp(port, factory, backlog=50, interface=""):
    return _listen_tcp(port, factory, backlog, "127.0.0.1")


def _ssl(port, factory, context, backlog=50, interface=""):
    return _listen_ssl(port, factory, context, backlog, "127.0.0.1")


reactor.listenTCP = _tcp
reactor.listenSSL = _ssl

from autobahntestsuite.wstest import run  # noqa: E402  (after the patch)

sys.argv[0] = "wstest"
sys.exit(run())
