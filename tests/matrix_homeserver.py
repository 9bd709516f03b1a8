"""A real, throwaway Synapse homeserver for the Matrix integration tests.

Synapse lives in its own virtual environment (``scripts/install-synapse.sh`` creates
``.venv-synapse`` at the repository root; the environment variable ``SYNAPSE_VENV`` points
elsewhere, a relative path being taken from the repository root). This module uses only the
standard library, so it imports anywhere; pytest is imported only by :func:`require_synapse`.

    with Homeserver(tmp_path / "hs") as hs:
        alice = hs.register("alice", "secret")  # {"user_id", "access_token", "device_id"}
        client = nio.AsyncClient(hs.url, alice["user_id"])

The configuration is written as JSON, which is valid YAML, so no YAML library is needed. It
relaxes every rate limit (matrix-nio sleeps and retries silently on HTTP 429, which makes tests
slow instead of failing), turns the /sync response cache off (a restarted client would otherwise
get a stale answer for two minutes) and has no federation listener.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent

START_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

# Every rate limiter this Synapse (1.163) reads, relaxed. Synapse ignores unknown keys, so a
# typo here would silently leave the default limit in place: the names were checked against
# synapse/config/ratelimiting.py.
_UNLIMITED = {"per_second": 10000, "burst_count": 10000}
RATE_LIMITS: dict[str, Any] = {
    "rc_message": _UNLIMITED,
    "rc_registration": _UNLIMITED,
    "rc_registration_token_validity": _UNLIMITED,
    "rc_login": {
        "address": _UNLIMITED,
        "account": _UNLIMITED,
        "failed_attempts": _UNLIMITED,
    },
    "rc_admin_redaction": _UNLIMITED,
    "rc_joins": {"local": _UNLIMITED, "remote": _UNLIMITED},
    "rc_joins_per_room": _UNLIMITED,
    "rc_key_requests": _UNLIMITED,
    "rc_3pid_validation": _UNLIMITED,
    "rc_invites": {
        "per_room": _UNLIMITED,
        "per_user": _UNLIMITED,
        "per_issuer": _UNLIMITED,
    },
    "rc_third_party_invite": _UNLIMITED,
    "rc_media_create": _UNLIMITED,
    "rc_presence": {"per_user": _UNLIMITED},
    "rc_delayed_event_mgmt": _UNLIMITED,
    "rc_room_creation": _UNLIMITED,
    "rc_reports": _UNLIMITED,
    "rc_user_directory": _UNLIMITED,
    "rc_profile": _UNLIMITED,
}

_SIGNING_KEY_SCRIPT = """\
import sys
from signedjson.key import generate_signing_key, write_signing_keys
with open(sys.argv[1], "w") as f:
    write_signing_keys(f, [generate_signing_key("auto")])
"""


class HomeserverError(RuntimeError):
    """Synapse did not start, or an API call failed."""


def synapse_venv() -> Path:
    """The Synapse virtual environment: ``$SYNAPSE_VENV`` or ``.venv-synapse``."""
    venv = Path(os.environ.get("SYNAPSE_VENV") or ".venv-synapse")
    return venv if venv.is_absolute() else REPO_ROOT / venv


def synapse_python() -> Path | None:
    """The Python of the Synapse environment, or None when it is not installed.

    Checks only that the interpreter exists; a broken environment shows at start-up.
    """
    python = synapse_venv() / "bin" / "python"
    return python if python.exists() else None


def require_synapse() -> Path:
    """Return the Synapse Python, or skip the calling test (fail it when ``$CI`` is set)."""
    import pytest  # only here, so that the module itself has no test dependencies

    python = synapse_python()
    if python is None:
        reason = (
            f"Synapse is not installed in {synapse_venv()}: "
            "run `bash scripts/install-synapse.sh` (or `make test`)"
        )
        if os.environ.get("CI"):
            pytest.fail(reason + " (CI is set, so this is a failure, not a skip)")
        pytest.skip(reason)
    return python


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free a moment ago (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"({path.name}: not written)"
    return "\n".join(text.splitlines()[-lines:]) or f"({path.name}: empty)"


class Homeserver:
    """One Synapse process with its data in ``data_dir``.

    The port is chosen once, at construction, so :meth:`restart` comes back on the same URL
    with the same database, media and signing key.
    """

    host = "127.0.0.1"
    server_name = "localhost"

    def __init__(
        self,
        data_dir: str | os.PathLike[str],
        *,
        port: int | None = None,
        python: str | os.PathLike[str] | None = None,
        extra_config: dict[str, Any] | None = None,
    ) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port if port is not None else free_port(self.host)
        if python is None:
            python = synapse_python()
            if python is None:
                raise HomeserverError(
                    f"Synapse is not installed in {synapse_venv()}: "
                    "run `bash scripts/install-synapse.sh`"
                )
        self.python = Path(python)
        self.extra_config = dict(extra_config or {})
        self.registration_shared_secret = secrets.token_hex(16)
        self.config_path = self.data_dir / "homeserver.yaml"
        self.log_path = self.data_dir / "homeserver.log"
        self.stderr_path = self.data_dir / "stderr.log"
        self._process: subprocess.Popen[bytes] | None = None
        self.last_start_seconds: float | None = None

    # -- configuration -------------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the client-server API, e.g. ``http://127.0.0.1:41234``."""
        return f"http://{self.host}:{self.port}"

    def config(self) -> dict[str, Any]:
        """The homeserver configuration that :meth:`start` writes."""
        data = self.data_dir
        config: dict[str, Any] = {
            "server_name": self.server_name,
            "public_baseurl": self.url + "/",
            "pid_file": str(data / "homeserver.pid"),
            "listeners": [
                {
                    "port": self.port,
                    "bind_addresses": [self.host],
                    "type": "http",
                    "tls": False,
                    "x_forwarded": False,
                    "resources": [{"names": ["client"], "compress": False}],
                }
            ],
            "database": {"name": "sqlite3", "args": {"database": str(data / "homeserver.db")}},
            "media_store_path": str(data / "media_store"),
            "signing_key_path": str(data / "signing.key"),
            "log_config": str(data / "log.config"),
            "registration_shared_secret": self.registration_shared_secret,
            "macaroon_secret_key": self.registration_shared_secret + "-macaroon",
            "form_secret": self.registration_shared_secret + "-form",
            "enable_registration": False,
            "report_stats": False,
            "trusted_key_servers": [],
            "suppress_key_server_warning": True,
            # No federation listener; outbound federation allowed to no server at all.
            "federation_domain_whitelist": [],
            "allow_public_rooms_over_federation": False,
            "presence": {"enabled": False},
            "caches": {"sync_response_cache_duration": 0},
            # Cheapest password hashing bcrypt allows: every login and registration hashes.
            "bcrypt_rounds": 4,
            "url_preview_enabled": False,
            "enable_metrics": False,
            **RATE_LIMITS,
        }
        config.update(self.extra_config)
        return config

    def _log_config(self) -> dict[str, Any]:
        return {
            "version": 1,
            "formatters": {
                "precise": {
                    "format": "%(asctime)s - %(name)s - %(lineno)d - %(levelname)s - "
                    "%(request)s - %(message)s"
                }
            },
            "filters": {"context": {"()": "synapse.logging.context.LoggingContextFilter"}},
            "handlers": {
                "file": {
                    "class": "logging.FileHandler",
                    "formatter": "precise",
                    "filename": str(self.log_path),
                    "filters": ["context"],
                    "encoding": "utf8",
                }
            },
            "root": {"level": "WARNING", "handlers": ["file"]},
            "disable_existing_loggers": False,
        }

    def _write_config(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        (self.data_dir / "media_store").mkdir(exist_ok=True)
        # JSON is YAML: no YAML library needed on this side.
        self.config_path.write_text(json.dumps(self.config(), indent=2))
        (self.data_dir / "log.config").write_text(json.dumps(self._log_config(), indent=2))
        key_path = self.data_dir / "signing.key"
        if not key_path.exists():
            result = subprocess.run(
                [str(self.python), "-c", _SIGNING_KEY_SCRIPT, str(key_path)],
                capture_output=True,
                text=True,
                check=False,
            )
            if result.returncode != 0:
                raise HomeserverError(f"could not generate the signing key:\n{result.stderr}")

    # -- process -------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = START_TIMEOUT) -> None:
        """Start Synapse and wait until ``/_matrix/client/versions`` answers."""
        if self.running:
            return
        self._write_config()
        started = time.monotonic()
        with open(self.stderr_path, "ab") as stderr:
            self._process = subprocess.Popen(
                [str(self.python), "-m", "synapse.app.homeserver", "-c", str(self.config_path)],
                cwd=self.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
            )
        deadline = started + timeout
        while True:
            code = self._process.poll()
            if code is not None:
                self._process = None
                raise HomeserverError(f"Synapse exited with code {code} on start\n{self._tails()}")
            if self._answers():
                break
            if time.monotonic() > deadline:
                self.stop()
                raise HomeserverError(
                    f"Synapse did not answer on {self.url} within {timeout:.0f} s\n{self._tails()}"
                )
            time.sleep(0.05)
        self.last_start_seconds = time.monotonic() - started

    def stop(self, timeout: float = STOP_TIMEOUT) -> None:
        """Stop Synapse: SIGTERM, then SIGKILL if it has not exited within ``timeout``."""
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self, timeout: float = START_TIMEOUT) -> None:
        """Stop and start again on the same port, with the same data."""
        self.stop()
        self.start(timeout)

    def __enter__(self) -> Homeserver:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __del__(self) -> None:
        # Last resort against orphaned processes; tests should call stop().
        process = getattr(self, "_process", None)
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                process.kill()

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/_matrix/client/versions", timeout=2) as r:
                return r.status == 200
        except (OSError, ValueError):
            return False

    def _tails(self) -> str:
        return (
            f"--- {self.stderr_path}\n{_tail(self.stderr_path)}\n"
            f"--- {self.log_path}\n{_tail(self.log_path)}"
        )

    # -- API -----------------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        access_token: str | None = None,
    ) -> dict[str, Any]:
        """Call the homeserver's HTTP API and return the decoded JSON answer.

        Raises :class:`HomeserverError` (with Synapse's ``errcode`` and ``error``) on HTTP
        errors.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if access_token is not None:
            request.add_header("Authorization", f"Bearer {access_token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise HomeserverError(f"{method} {path}: HTTP {error.code}: {detail}") from None

    def register(self, username: str, password: str, admin: bool = False) -> dict[str, str]:
        """Create a user with the shared-secret admin API.

        Returns ``{"user_id", "access_token", "device_id"}``; the user is logged in once.
        """
        path = "/_synapse/admin/v1/register"
        nonce = self.api("GET", path)["nonce"]
        message = b"\x00".join(
            [
                nonce.encode(),
                username.encode(),
                password.encode(),
                b"admin" if admin else b"notadmin",
            ]
        )
        mac = hmac.new(self.registration_shared_secret.encode(), message, hashlib.sha1).hexdigest()
        answer = self.api(
            "POST",
            path,
            {
                "nonce": nonce,
                "username": username,
                "password": password,
                "admin": admin,
                "mac": mac,
            },
        )
        return {key: answer[key] for key in ("user_id", "access_token", "device_id")}
