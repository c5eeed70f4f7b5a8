"""`make run` and `manage.py runall` end together: closing the terminal (SIGHUP), a SIGTERM,
or the death of a parent leaves no web server, worker or beat behind, and the port is free;
a busy port fails at once, in one line naming PORT= (tests/retargeting/test_make_run.py: the
same line when the port is taken after that check, and the quiet console)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import urllib.request
from pathlib import Path

import pytest

from retargeting.ports import is_free
from tests.retargeting.test_processes import alive, child_pids, stop
from tests.support.processes import MANAGE, PYTHON, ROOT, env_for_test_database, free_port, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def start(
    command: list[str], port: int, log: Path, **options: object
) -> tuple[subprocess.Popen[bytes], set[int]]:
    """``command`` in a session (and so a process group) of its own, as a terminal starts it;
    returns once the web server answers and the worker is ready, with every process below."""
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env_for_test_database(),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **options,  # type: ignore[call-overload]
        )
    try:
        assert wait_for(lambda: answers(port), timeout=90), log.read_text()[-3000:]
        assert wait_for(lambda: "ready." in log.read_text(), timeout=60), log.read_text()[-3000:]
    except BaseException:
        os.killpg(process.pid, signal.SIGTERM)
        raise
    return process, child_pids(process.pid)


def make_run(port: int, log: Path) -> tuple[subprocess.Popen[bytes], set[int]]:
    process, below = start(["make", "-s", "run", f"PORT={port}"], port, log)
    assert len(below) >= 4  # runall, then web, worker and beat
    return process, below


def in_use(port: int) -> str:
    """The one line (the suggested port is the next free one, so only its form is pinned)."""
    return (
        f"Port {port} is in use (another make run?). "
        "Stop it, or choose another port: make run PORT="
    )


def run_make(port: int) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["make", "-s", "run", f"PORT={port}"],
        cwd=ROOT,
        env=env_for_test_database(),
        capture_output=True,
        text=True,
        timeout=60,
    )


def relance_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    """What Relance wrote on stderr (make adds its own "make: *** ... Error" line)."""
    return [line for line in result.stderr.splitlines() if not line.startswith("make")]


def assert_all_ended(process: subprocess.Popen[bytes], below: set[int], port: int) -> None:
    try:
        process.wait(timeout=30)
    finally:
        stop(process)
    wait_for(lambda: not any(alive(pid) for pid in below), timeout=30)
    left = sorted(pid for pid in below if alive(pid))
    for pid in left:  # a failed test leaves nothing running either
        os.kill(pid, signal.SIGKILL)
    assert left == [], "still running after their parent ended"
    assert is_free("127.0.0.1", port)
    assert not answers(port)


@pytest.mark.parametrize("signum", [signal.SIGHUP, signal.SIGTERM])
def test_a_signal_to_make_runs_group_ends_every_process_and_frees_the_port(tmp_path, signum):
    """SIGHUP is what a closed terminal sends to its foreground group: make and runall.
    (SIGTERM, already handled before SIGHUP was, is the control.)"""
    port = free_port()
    process, below = make_run(port, tmp_path / "run.log")
    # A second `make run` on the same port fails at once and starts nothing.
    second = run_make(port)
    assert second.returncode != 0
    [line] = relance_lines(second)
    assert line.startswith(in_use(port))
    assert child_pids(process.pid) == below
    os.killpg(process.pid, signum)
    assert_all_ended(process, below, port)


def test_killing_make_alone_ends_every_process(tmp_path):
    """make SIGKILLed: runall, its parent gone, stops its children and itself."""
    port = free_port()
    process, below = make_run(port, tmp_path / "run.log")
    process.kill()  # make only, not its group
    assert_all_ended(process, below, port)


def test_killing_runall_ends_its_children(tmp_path):
    """runall SIGKILLed has no time to stop anything: the kernel tells each child (Linux)."""
    port = free_port()
    command = [PYTHON, MANAGE, "runall", "--port", str(port)]
    process, below = start(command, port, tmp_path / "runall.log")
    assert len(below) >= 3  # web, worker, beat
    process.kill()
    assert_all_ended(process, below, port)


def test_under_nohup_a_hangup_is_ignored_and_ctrl_c_still_stops_everything(tmp_path):
    """`nohup make run &` asks to outlive the terminal: SIGHUP, ignored when runall starts,
    stays ignored. Control for the hang-up test: the signal, not something else, ends it."""
    port = free_port()
    command = [PYTHON, MANAGE, "runall", "--port", str(port)]

    def nohup() -> None:
        signal.signal(signal.SIGHUP, signal.SIG_IGN)

    process, below = start(command, port, tmp_path / "runall.log", preexec_fn=nohup)
    os.killpg(process.pid, signal.SIGHUP)
    with pytest.raises(subprocess.TimeoutExpired):
        process.wait(timeout=3)
    assert answers(port) and all(alive(pid) for pid in below)
    process.send_signal(signal.SIGINT)
    assert_all_ended(process, below, port)


def test_a_busy_port_fails_at_once_in_one_line_naming_port(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not is_free("127.0.0.1", port)
        result = run_make(port)
        assert result.returncode != 0
        [line] = relance_lines(result)
        assert line.startswith(in_use(port))
        assert int(line.rsplit("PORT=", 1)[1]) != port
        assert result.stdout == ""  # nothing migrated, nothing started
        # runall alone says the same, before starting any child.
        direct = subprocess.run(
            [PYTHON, MANAGE, "runall", "--port", str(port)],
            cwd=ROOT,
            env=env_for_test_database(),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert direct.returncode == 1
        assert direct.stderr.strip().startswith(in_use(port))
        assert len(direct.stderr.strip().splitlines()) == 1
        assert "Relance is running" not in direct.stdout
    # Control: the port freed, it is free again.
    assert is_free("127.0.0.1", port)
