"""`make run` for a newcomer (issue 33): the install says what it does and then nothing once
done; the console stays quiet (no banner, no line per request, task or scheduler tick) and ends
with the URLs, printed once the port answers; a port taken after the check gets the same one
line naming PORT=; `.venv/bin/python manage.py COMMAND` works on the `.env` that `make install`
writes, and production's refusal without settings is unchanged."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from retargeting import install
from tests.retargeting.test_processes import alive, child_pids, stop
from tests.support.processes import (
    MANAGE,
    PYTHON,
    ROOT,
    base_env,
    env_for_test_database,
    free_port,
    wait_for,
)

IN_USE = (
    "Port {port} is in use (another make run?). Stop it, or choose another port: make run PORT="
)
URLS_LINE = "Relance is running (web, worker, beat). Ctrl-C stops everything."
REFUSED = (
    "relance: missing required setting: SECRET_KEY, ALLOWED_HOSTS, PUBLIC_BASE_URL "
    "(required when DEBUG is off)"
)


# --- The install's progress ------------------------------------------------------------------


def fake_pip(tmp_path: Path, lines: list[str], code: int) -> list[str]:
    script = tmp_path / "pip.py"
    script.write_text(f"import sys\nfor line in {lines!r}:\n    print(line)\nsys.exit({code})\n")
    return [PYTHON, str(script)]


PIP_SAYS = [
    *(f"Collecting package{i}==1.0 (from -r requirements/dev.txt (line {i}))" for i in range(8)),
    "  Downloading package0-1.0-py3-none-any.whl (10 kB)",
    "Installing collected packages: package0, package1",
    "Successfully installed package0-1.0 package1-1.0",
]


def test_the_install_says_how_far_it_got_and_then_done(tmp_path):
    out = io.StringIO()
    assert install.follow(fake_pip(tmp_path, PIP_SAYS, 0), total=8, out=out) == 0
    assert out.getvalue().splitlines() == [
        "Installing the locked dependencies (8 packages, 1–2 minutes the first time)…",
        "  2/8 packages fetched",
        "  4/8 packages fetched",
        "  6/8 packages fetched",
        "  8/8 packages fetched",
        "  installing them…",
        "done",
    ]


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_on_a_terminal_the_count_goes_up_in_place(tmp_path):
    out = Terminal()
    assert install.follow(fake_pip(tmp_path, PIP_SAYS, 0), total=8, out=out) == 0
    first, counting, *rest = out.getvalue().split("\n")
    assert first.startswith("Installing the locked dependencies (8 packages")
    assert counting == "".join(f"\r  {n}/8 packages fetched" for n in range(1, 9))
    assert rest == ["  installing them…", "done", ""]


def test_a_failed_install_shows_pips_whole_output_and_no_done(tmp_path):
    out = io.StringIO()
    said = [*PIP_SAYS[:2], "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES"]
    assert install.follow(fake_pip(tmp_path, said, 1), total=8, out=out) == 1
    printed = out.getvalue()
    assert "ERROR: THESE PACKAGES DO NOT MATCH THE HASHES" in printed
    assert "Collecting package1==1.0" in printed
    assert printed.endswith("make: installing the dependencies failed (pip exit code 1)\n")
    assert "done" not in printed.splitlines()


def test_the_package_count_is_the_locks():
    lock = (ROOT / "requirements" / "dev.txt").read_text()
    pinned = [line for line in lock.splitlines() if line[:1].isalnum() and "==" in line]
    assert install.count_requirements(ROOT / "requirements" / "dev.txt") == len(pinned) > 50


# --- make install: nothing said once done; the development .env --------------------------------


def make(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The project's Makefile run in ``tmp_path`` (a checkout's stand-in), with its own venv."""
    environment = {
        k: v for k, v in os.environ.items() if k not in {"ENV_FILE", "DEBUG", "MAKEFLAGS"}
    }
    environment.update(env)
    return subprocess.run(
        ["make", "-s", "-f", str(ROOT / "Makefile"), "-C", str(tmp_path), "VENV=venv", *args],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A checkout whose locked install is done: the venv's stamp newer than the lock."""
    (tmp_path / "requirements").mkdir()
    lock = tmp_path / "requirements" / "dev.txt"
    lock.write_text("django==5.2 \\\n    --hash=sha256:0\n")
    (tmp_path / "venv").mkdir()
    stamp = tmp_path / "venv" / ".installed"
    stamp.touch()
    hour_ago = time.time() - 3600
    os.utime(lock, (hour_ago, hour_ago))
    os.utime(stamp, (hour_ago + 60, hour_ago + 60))
    return tmp_path


def test_make_install_writes_the_development_env_once_and_then_says_nothing(checkout):
    first = make(checkout, "install")
    assert first.returncode == 0, first.stderr
    assert (
        first.stdout
        == "Wrote .env (DEBUG=1: the development defaults, which manage.py reads too).\n"
    )
    written = (checkout / ".env").read_text()
    assert "DEBUG=1" in written.splitlines()
    assert "Not for production" in written
    # The second time: the install is done and the file is there, nothing is said.
    second = make(checkout, "install")
    assert (second.returncode, second.stdout, second.stderr) == (0, "", "")
    assert (checkout / ".env").read_text() == written


def test_a_changed_lock_is_installed_again_with_its_steps_said(checkout):
    """Control of the silence above: a newer lock runs the install's steps (shown, not run)."""
    later = (checkout / "venv" / ".installed").stat().st_mtime + 60
    os.utime(checkout / "requirements" / "dev.txt", (later, later))
    planned = make(checkout, "-n", "install")
    assert planned.returncode == 0, planned.stderr
    assert 'echo "Creating the virtual environment in venv…"' in planned.stdout
    assert "venv/bin/python retargeting/install.py requirements/dev.txt" in planned.stdout


def test_an_operators_env_is_never_replaced_and_an_empty_env_file_writes_none(checkout):
    (checkout / ".env").write_text("DEBUG=0\nSECRET_KEY=kept\n")
    assert make(checkout, "install").stdout == ""
    assert (checkout / ".env").read_text() == "DEBUG=0\nSECRET_KEY=kept\n"
    (checkout / ".env").unlink()
    assert make(checkout, "install", ENV_FILE="").stdout == ""
    assert not (checkout / ".env").exists()


def test_git_and_the_docker_image_never_take_the_env_file(checkout):
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()
    # docker compose reads .env: the development one, left in place by mistake, has no
    # POSTGRES_PASSWORD, which compose requires before starting anything.
    assert "${POSTGRES_PASSWORD:?" in (ROOT / "docker-compose.yml").read_text()
    make(checkout, "install")
    assert "POSTGRES_PASSWORD" not in (checkout / ".env").read_text()


# --- manage.py on the embedded default ---------------------------------------------------------


def manage(
    *args: str, python: tuple[str, ...] = (PYTHON,), **env: str
) -> subprocess.CompletedProcess[str]:
    environment = base_env(**env)
    if "DEBUG" not in env:
        del environment["DEBUG"]  # as typed in a fresh shell
    return subprocess.run(
        [*python, MANAGE, *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.slow
def test_manage_py_works_on_the_env_make_install_writes_and_refuses_without_it(checkout):
    assert make(checkout, "install").returncode == 0
    env_file = str(checkout / ".env")
    var = str(checkout / "var")
    checked = manage("check", ENV_FILE=env_file, VAR_DIR=var)
    assert checked.returncode == 0, checked.stderr
    assert "System check identified no issues" in checked.stdout
    helped = manage("bootstrap_site", "--help", ENV_FILE=env_file, VAR_DIR=var)
    assert helped.returncode == 0, helped.stderr
    assert "--domain" in helped.stdout
    # Controls: production's refusal is unchanged without the file, and the environment's
    # DEBUG=0 wins over it.
    for env in ({"ENV_FILE": ""}, {"ENV_FILE": env_file, "DEBUG": "0"}):
        refused = manage("check", VAR_DIR=var, **env)
        assert refused.returncode == 1
        assert refused.stderr.strip() == REFUSED


@pytest.mark.slow
def test_a_python_without_django_is_told_which_python_to_use():
    # -S: no site-packages, as the system's Python without the virtualenv.
    result = manage("check", python=(PYTHON, "-S"), DEBUG="1")
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("relance: Django is not installed for ")
    assert line.endswith("run `make install`, then `.venv/bin/python manage.py ...`")


# --- make run: a quiet console, the URLs last and once the port answers ------------------------


def answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_an_idle_make_run_prints_a_handful_of_lines_ending_with_the_urls(tmp_path):
    port = free_port()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            ["make", "-s", "run", f"PORT={port}"],
            cwd=ROOT,
            env=env_for_test_database(VAR_DIR=str(tmp_path / "var")),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # The URLs only once the web server answers: seen, the port already answers.
        assert wait_for(lambda: URLS_LINE in log.read_text(), timeout=120, interval=0.05), (
            log.read_text()[-3000:]
        )
        answered_when_printed = answers(port)
        at_urls = len(log.read_text().splitlines())
        below = child_pids(process.pid)
        # About 15 s of an idle run, with requests (each was a console line before) and the
        # ingest's heartbeats (most of the lines before).
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            answers(port)
            urllib.request.urlopen(f"http://127.0.0.1:{port}/demo/shop/", timeout=5).close()
            time.sleep(0.5)
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        finally:
            stop(process)
    wait_for(lambda: not any(alive(pid) for pid in below), timeout=30)
    printed = log.read_text()
    lines = printed.splitlines()
    assert answered_when_printed
    assert printed.count(URLS_LINE) == 1
    assert f"  Demo shop:   http://127.0.0.1:{port}/demo/shop/" in lines
    assert "  Demo login:  demo / relance-demo" in lines
    # Before: ~280 lines a minute (the ingest task's received/succeeded/sending 3 a second,
    # one per request), and Celery's and the development server's banners.
    after = lines[at_urls:]
    shutdown = [line for line in after if "Warm shutdown" in line]
    assert len(after) - len(shutdown) <= 8, after  # the demo's first pass: one line per send
    for chatter in (
        "Sending due task",
        "] received",
        "] succeeded",
        "GET /",
        "[tasks]",
        "-------------- ",
    ):
        assert not any(chatter in line for line in lines), chatter
    assert len(lines) <= 40, printed


@pytest.mark.django_db(transaction=True)
@pytest.mark.slow
def test_a_port_taken_after_the_check_gets_the_same_one_line_and_nothing_keeps_running(tmp_path):
    """Another program takes the port between the check and the web server's bind: the web
    server's failure is said in the same one line naming PORT=, not in the worker's output,
    and the worker and beat are stopped."""
    port = free_port()
    var = tmp_path / "var"
    script = (
        "import runpy, socket, sys\n"
        "import retargeting.ports as ports\n"
        "busy = socket.socket()\n"
        f"busy.bind(('127.0.0.1', {port}))\n"
        "busy.listen()\n"
        "ports.is_free = lambda host, port: True  # the check passed just before\n"
        f"sys.argv = ['manage.py', 'runall', '--port', '{port}']\n"
        f"runpy.run_path({MANAGE!r}, run_name='__main__')\n"
    )
    result = subprocess.run(
        [PYTHON, "-c", script],
        cwd=ROOT,
        env=env_for_test_database(VAR_DIR=str(var)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(IN_USE.format(port=port))
    assert URLS_LINE not in result.stdout
    assert "That port is already in use" not in result.stdout + result.stderr
    assert "[tasks]" not in result.stdout and "-------------- " not in result.stdout
    # Nothing is left running with this run's folder in its environment.
    assert left_running(var) == []


def left_running(var: Path) -> list[int]:
    marker = f"VAR_DIR={var}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if marker in environ.split(b"\0") and alive(int(entry)):
                found.append(int(entry))
    return found
