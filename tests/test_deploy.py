"""The deployment files in deploy/ do what docs/deploy.md says.

No container daemon runs here, so the image is checked by doing what its Dockerfile does: the
COPY lines copy the repository's files into a stand-in for the image's file system under
tmp_path, the RUN lines that install the project run in a fresh virtualenv (a real install from
the package index, no --system-site-packages), and the image's ENTRYPOINT + CMD start Convener
with no platform configured, that is the console, fed `!help` on stdin. The HEALTHCHECK command
is run against a small local HTTP server. The systemd unit goes through
`systemd-analyze verify` (and `security`) when systemd-analyze is installed."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
UNIT = DEPLOY / "convener.service"
ENV_EXAMPLE = DEPLOY / "convener.env.example"

# Settings of the developer's shell must not leak into the runs below.
FOREIGN = ("CONVENER_", "SLACK_", "MATRIX_", "VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")


# The Dockerfile ------------------------------------------------------------------------------


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order: comments dropped, continuation lines joined."""
    found: list[tuple[str, str]] = []
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue  # also inside a continuation, as Docker does
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        name, _, args = (pending + line).partition(" ")
        found.append((name.upper(), args.strip()))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continuation line"
    return found


def command(args: str) -> list[str]:
    """An ENTRYPOINT, CMD or RUN argument: exec form (JSON) or shell form."""
    return json.loads(args) if args.startswith("[") else ["/bin/sh", "-c", args]


def env_pairs(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if "=" not in words[0]:  # legacy `ENV NAME value`
        return {words[0]: " ".join(words[1:])}
    return dict(word.split("=", 1) for word in words)


class Image:
    """The Dockerfile's effect, replayed on this machine. Paths inside the image live under
    `root`; the project is installed in a new virtualenv that stands for the image's Python."""

    def __init__(self, dockerfile: Path, tmp_path: Path) -> None:
        self.steps = instructions(dockerfile.read_text())
        self.root = tmp_path / "image"
        self.venv = tmp_path / "venv"
        self.workdir = PurePosixPath("/")
        self.env: dict[str, str] = {}
        self.entrypoint: list[str] = []
        self.cmd: list[str] = []
        self.volumes: list[str] = []
        self.installs: list[str] = []

    def path(self, inside: str | PurePosixPath) -> Path:
        """Where a path of the image is here."""
        absolute = self.workdir / inside  # an absolute `inside` replaces the workdir
        return self.root.joinpath(*absolute.parts[1:])

    def environment(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
        bin_dir = str(self.venv / "bin")
        return {**base, **self.env, "VIRTUAL_ENV": str(self.venv),
                "PATH": os.pathsep.join([bin_dir, base.get("PATH", "")])}  # fmt: skip

    def copy(self, args: str) -> None:
        words = [w for w in shlex.split(args) if not w.startswith("--")]  # --chown and co.
        *sources, dest = words
        target = self.path(dest)
        for source in sources:
            origin = ROOT / source
            assert origin.exists(), f"COPY {source}: not in the repository"
            if origin.is_dir():  # its contents go into dest
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(origin, target, dirs_exist_ok=True, ignore=ignore)
            elif dest.endswith("/") or len(sources) > 1:
                target.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target / origin.name)
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, target)

    def build(self) -> None:
        """Create the virtualenv, then replay the Dockerfile: ENV, WORKDIR, COPY, VOLUME,
        ENTRYPOINT, CMD, and the RUN lines that install the project (the others create the
        user and such, which needs root and a container)."""
        subprocess.run([sys.executable, "-m", "venv", str(self.venv)], check=True, timeout=300)
        for name, args in self.steps:
            if name == "ENV":
                self.env.update(env_pairs(args))
            elif name == "WORKDIR":
                self.workdir = self.workdir / args
                self.path(".").mkdir(parents=True, exist_ok=True)
            elif name == "COPY":
                self.copy(args)
            elif name == "VOLUME":
                self.volumes += command(args) if args.startswith("[") else args.split()
            elif name == "ENTRYPOINT":
                self.entrypoint, self.cmd = command(args), []  # as Docker: resets CMD
            elif name == "CMD":
                self.cmd = command(args)
            elif name == "RUN" and "pip install" in args:
                self.installs.append(args)
                done = subprocess.run(command(args), cwd=self.path("."), env=self.environment(),
                                      capture_output=True, text=True, timeout=600)  # fmt: skip
                assert done.returncode == 0, f"RUN {args}\n{done.stdout}\n{done.stderr}"

    def local(self, value: str) -> str:
        """A sqlite URL with an absolute path inside the image, pointed at its stand-in."""
        prefix = "sqlite:///"
        if value.startswith(prefix + "/"):
            return prefix + str(self.path(value[len(prefix) :]))
        return value


@pytest.fixture(scope="module")
def dockerfile() -> list[tuple[str, str]]:
    return instructions(DOCKERFILE.read_text())


def test_dockerfile_settings(dockerfile):
    names = [name for name, _ in dockerfile]
    assert dockerfile[0] == ("FROM", "python:3.11-slim")
    env: dict[str, str] = {}
    for name, args in dockerfile:
        if name == "ENV":
            env.update(env_pairs(args))
    assert env["CONVENER_HTTP_HOST"] == "0.0.0.0"
    port = env.get("CONVENER_HTTP_PORT", "3000")
    assert any(name == "EXPOSE" and port in args.split() for name, args in dockerfile)
    user = next(args for name, args in dockerfile if name == "USER")
    assert user not in ("root", "0")
    assert any(name == "RUN" and "useradd" in args and user in args for name, args in dockerfile)
    assert names.index("USER") > max(i for i, n in enumerate(names) if n == "RUN")
    # The database lives on the volume.
    volumes = [args for name, args in dockerfile if name == "VOLUME"]
    database = env["CONVENER_DATABASE_URL"]
    assert database.startswith("sqlite:////")
    assert any(database.startswith(f"sqlite:///{v.rstrip('/')}/") for v in volumes), volumes
    assert "HEALTHCHECK" in names


def test_build_context_keeps_what_the_image_copies(dockerfile):
    """deploy/Dockerfile.dockerignore lets only the listed files into the build context (not
    .venv and .venv-synapse, hundreds of MB); each COPY source must be among them."""
    allowed = {
        line[1:].rstrip("/")
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.startswith("!")
    }
    for name, args in dockerfile:
        if name == "COPY":
            *sources, _ = [w for w in shlex.split(args) if not w.startswith("--")]
            for source in sources:
                assert source.rstrip("/") in allowed, f"{source} is left out of the build context"


@pytest.mark.slow
def test_image_installs_and_answers_help_on_the_console(tmp_path):
    image = Image(DOCKERFILE, tmp_path)
    image.build()
    assert image.installs, "no RUN line installs the project"
    argv = image.entrypoint + image.cmd
    assert argv[:2] == ["convener", "run"], argv
    executable = shutil.which(argv[0], path=str(image.venv / "bin"))
    assert executable, f"{argv[0]} is not installed in the image's Python"

    env = image.environment()
    env["CONVENER_DATABASE_URL"] = image.local(image.env["CONVENER_DATABASE_URL"])
    database = Path(env["CONVENER_DATABASE_URL"].removeprefix("sqlite:///"))
    assert database.is_relative_to(image.root)
    done = subprocess.run([executable, *argv[1:]], input="!help\n", capture_output=True,
                          text=True, cwd=image.path("."), env=env, timeout=180)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[DM @you] convener: Here is what you can ask me:" in done.stdout, done.stdout
    assert "Traceback" not in done.stderr, done.stderr
    assert database.exists()  # migrated, on the volume


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):
        ok = self.path == "/healthz" and self.status == 200
        body = json.dumps({"status": "ok" if ok else "failing"}).encode()
        self.send_response(200 if ok else 503)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_healthcheck_passes_on_200_and_fails_on_503_or_no_answer(dockerfile):
    args = next(args for name, args in dockerfile if name == "HEALTHCHECK")
    probe = command(args.split(" CMD ", 1)[1].strip())
    assert probe[0] == "python"  # the image has no curl; its own Python does it
    probe[0] = sys.executable
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}

    def check(port: int) -> int:
        env["CONVENER_HTTP_PORT"] = str(port)
        return subprocess.run(probe, env=env, capture_output=True, timeout=30).returncode

    try:
        port = server.server_address[1]
        assert check(port) == 0
        _Health.status = 503
        assert check(port) == 1
    finally:
        _Health.status = 200
        server.shutdown()
        server.server_close()
    assert check(port) == 1  # nothing listens any more


# The systemd unit ----------------------------------------------------------------------------


def unit_values(text: str) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    for line in text.splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            values.setdefault(key.strip(), []).append(value.strip())
    return values


def seconds(value: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


def test_unit_settings_fit_convener():
    from adapters.matrix.adapter import CLOSE_GRACE_SECONDS
    from bot.app import STOP_GRACE_SECONDS

    unit = unit_values(UNIT.read_text())
    assert unit["ExecStart"][0].split()[1:] == ["run"]
    assert unit["Restart"] == ["on-failure"]
    assert unit["ProtectSystem"] == ["strict"] and unit["NoNewPrivileges"] == ["yes"]
    # The slowest clean stop: each of two platforms' intake, the handlers in flight and the
    # running jobs get STOP_GRACE_SECONDS each, then Matrix disconnects.
    slowest = 4 * STOP_GRACE_SECONDS + CLOSE_GRACE_SECONDS
    assert seconds(unit["TimeoutStopSec"][0]) >= slowest + 10
    # The example settings put the SQLite database where the service may write.
    writable = [Path(p) for p in unit["ReadWritePaths"][0].split()]
    assert Path(unit["WorkingDirectory"][0]) in writable
    example = unit_values(ENV_EXAMPLE.read_text())
    database = Path(example["CONVENER_DATABASE_URL"][0].removeprefix("sqlite:///"))
    assert any(database.is_relative_to(p) for p in writable)


def _stubbed_unit(tmp_path: Path) -> Path:
    """A copy of the unit whose commands are an executable stub: the virtualenv of
    /opt/convener does not exist here, and `verify` would only say so."""
    text = UNIT.read_text()
    stub = tmp_path / "convener"
    stub.write_text("#!/bin/sh\nexit 0\n")
    stub.chmod(0o755)
    for key, values in unit_values(text).items():
        if key.startswith("Exec"):
            for value in values:
                text = text.replace(value.split()[0].lstrip("-@:+!"), str(stub))
    copy = tmp_path / UNIT.name
    copy.write_text(text)
    return copy


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_unit_passes_systemd_analyze_verify(tmp_path):
    unit = _stubbed_unit(tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                          text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    output = done.stdout + done.stderr
    # Unknown keys and bad values are only warnings (exit 0): every line about the unit fails.
    about_unit = [line for line in output.splitlines() if UNIT.name in line]
    assert done.returncode == 0 and not about_unit, output


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_unit_is_hardened(tmp_path):
    unit = _stubbed_unit(tmp_path)
    done = subprocess.run(["systemd-analyze", "security", "--offline=yes", str(unit)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)  # fmt: skip
    level = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", done.stdout)
    if done.returncode != 0 and level is None:
        pytest.skip(f"systemd-analyze security --offline is not supported: {done.stderr}")
    assert level is not None, done.stdout + done.stderr
    assert float(level.group(1)) <= 2.5, done.stdout  # "OK" on systemd's scale (0 to 10)
