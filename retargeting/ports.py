"""Whether a TCP port is free to listen on, asked before `make run` starts anything.

A second `make run`, or another program on the port, then fails at once with one line naming
``PORT=``, before a worker and a scheduler start beside the ones already running. `make run`
runs this file as a script (``python retargeting/ports.py HOST PORT``: no Django, no package
import, a few milliseconds); ``manage.py runall`` imports it, and says the same line when the
port is taken between that check and the web server's bind.
"""

from __future__ import annotations

import errno
import socket
import sys

# How far above a busy port to look for a free one to suggest.
SUGGEST_WITHIN = 20


def in_use_message(port: int, *, host: str = "127.0.0.1") -> str:
    """The one line a busy port gets, suggesting the next free port."""
    suggestion = next_free(host, port + 1) or port + 1
    return (
        f"Port {port} is in use (another make run?). "
        f"Stop it, or choose another port: make run PORT={suggestion}"
    )


def next_free(host: str, start: int) -> int | None:
    """The first free port from ``start`` (within SUGGEST_WITHIN), or None."""
    for port in range(start, min(start + SUGGEST_WITHIN, 65536)):
        if is_free(host, port):
            return port
    return None


def is_free(host: str, port: int) -> bool:
    """Whether a server could listen on ``host:port`` now. A socket still in TIME_WAIT
    (a server just stopped) does not count: the web server reuses the address as well."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


if __name__ == "__main__":
    host, port = sys.argv[1], int(sys.argv[2])
    if not is_free(host, port):
        sys.stderr.write(in_use_message(port, host=host) + "\n")
        raise SystemExit(1)
