"""Settings, read from `bot.env` and the environment (the environment wins)."""

from __future__ import annotations

from pathlib import Path

from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.platform import UNLIMITED, Budget

SEND_RATES_FORMAT = (
    "CONVENER_SEND_RATES is <platform>=<sends a second>[/<burst>[/<seconds between posts in "
    "one channel>]], comma-separated, or <platform>=unlimited; for example "
    "matrix=0.2/10,slack=1/20/1"
)


def parse_send_rates(value: str) -> dict[str, Budget]:
    """`matrix=0.2/10,slack=unlimited` as budgets; ValueError naming the format if not."""
    budgets: dict[str, Budget] = {}
    for part in (p.strip() for p in value.split(",")):
        if not part:
            continue
        name, equals, figures = part.partition("=")
        name, figures = name.strip().lower(), figures.strip().lower()
        if not equals or not name:
            raise ValueError(SEND_RATES_FORMAT)
        if figures == "unlimited":
            budgets[name] = UNLIMITED
            continue
        try:
            numbers = [float(n) for n in figures.split("/")]
        except ValueError:
            raise ValueError(SEND_RATES_FORMAT) from None
        if not 1 <= len(numbers) <= 3 or any(n < 0 for n in numbers) or numbers[0] <= 0:
            raise ValueError(SEND_RATES_FORMAT)
        burst = int(numbers[1]) if len(numbers) > 1 else 1
        spacing = numbers[2] if len(numbers) > 2 else 0.0
        budgets[name] = Budget(numbers[0], max(burst, 1), spacing)
    return budgets


def _env(name: str, default, **kw):
    return Field(default, validation_alias=AliasChoices(name, name.lower()), **kw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file="bot.env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = _env("CONVENER_DATABASE_URL", "sqlite:///convener.db")
    timezone: str = _env("CONVENER_TIMEZONE", "UTC")
    community_name: str = _env("CONVENER_COMMUNITY_NAME", "our community")
    language: str = _env("CONVENER_LANGUAGE", "en")
    facilitators: str = _env("CONVENER_FACILITATORS", "")
    coordinators: str = _env("CONVENER_COORDINATORS", "")
    question_sla_hours: float = _env("CONVENER_QUESTION_SLA_HOURS", 24, gt=0)
    experts_per_question: int = _env("CONVENER_EXPERTS_PER_QUESTION", 2, ge=1)
    questions_channel: str = _env("CONVENER_QUESTIONS_CHANNEL", "")
    prompt_grace_hours: float = _env("CONVENER_PROMPT_GRACE_HOURS", 6, ge=0)
    digest_weekday: str = _env("CONVENER_DIGEST_WEEKDAY", "monday")
    digest_time: str = _env("CONVENER_DIGEST_TIME", "08:00")
    digest_grace_hours: float = _env("CONVENER_DIGEST_GRACE_HOURS", 6, ge=0)
    store_message_text: bool = _env("CONVENER_STORE_MESSAGE_TEXT", False)
    retention_days: int = _env("CONVENER_RETENTION_DAYS", 730, ge=0)
    welcome_in_channel: bool = _env("CONVENER_WELCOME_IN_CHANNEL", False)
    log_level: str = _env("CONVENER_LOG_LEVEL", "INFO")
    activity_flush_seconds: float = _env("CONVENER_ACTIVITY_FLUSH_SECONDS", 0.25, gt=0)
    activity_batch_size: int = _env("CONVENER_ACTIVITY_BATCH_SIZE", 2000, ge=1)
    watch_refresh_seconds: float = _env("CONVENER_WATCH_REFRESH_SECONDS", 2, ge=0)
    send_rates: str = _env("CONVENER_SEND_RATES", "")
    outbox_alert_minutes: float = _env("CONVENER_OUTBOX_ALERT_MINUTES", 30, gt=0)

    slack_bot_token: str = _env("SLACK_BOT_TOKEN", "")
    slack_app_token: str = _env("SLACK_APP_TOKEN", "")
    slack_signing_secret: str = _env("SLACK_SIGNING_SECRET", "")
    http_port: int = _env("CONVENER_HTTP_PORT", 3000)
    http_host: str = _env("CONVENER_HTTP_HOST", "")
    public_url: str = _env("CONVENER_PUBLIC_URL", "")
    slack_api_url: str = _env("SLACK_API_URL", "")

    matrix_homeserver: str = _env("MATRIX_HOMESERVER", "")
    matrix_user_id: str = _env("MATRIX_USER_ID", "")
    matrix_password: str = _env("MATRIX_PASSWORD", "")
    matrix_access_token: str = _env("MATRIX_ACCESS_TOKEN", "")
    matrix_device_id: str = _env("MATRIX_DEVICE_ID", "")
    matrix_rooms: str = _env("MATRIX_ROOMS", "")
    matrix_store_path: str = _env("MATRIX_STORE_PATH", "")

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo

        ZoneInfo(value)
        return value

    @field_validator("language")
    @classmethod
    def _shipped_language(cls, value: str) -> str:
        from bot import i18n

        found = i18n.code(value)
        if found is None:
            raise ValueError(
                f"{value!r} is not a language Convener speaks; use one of "
                + ", ".join(i18n.available())
            )
        return found

    @field_validator("public_url")
    @classmethod
    def _web_address(cls, value: str) -> str:
        from urllib.parse import urlsplit

        value = value.strip().rstrip("/")
        if value:
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
                raise ValueError(
                    "CONVENER_PUBLIC_URL is the address people reach Convener's HTTP server "
                    "at, such as https://convener.example.org"
                )
        return value

    @field_validator("send_rates")
    @classmethod
    def _readable_rates(cls, value: str) -> str:
        parse_send_rates(value)
        return value

    def send_budgets(self) -> dict[str, Budget]:
        """`CONVENER_SEND_RATES`: each platform's send budget as this deployment states it."""
        return parse_send_rates(self.send_rates)

    @staticmethod
    def _split(value: str) -> list[str]:
        return [part.strip() for part in value.split(",") if part.strip()]

    @property
    def facilitator_ids(self) -> list[str]:
        return self._split(self.facilitators)

    @property
    def coordinator_ids(self) -> list[str]:
        return self._split(self.coordinators)

    @property
    def matrix_room_list(self) -> list[str]:
        return self._split(self.matrix_rooms)

    @property
    def matrix_store_dir(self) -> Path:
        """Where the Matrix encryption keys are kept: `MATRIX_STORE_PATH`, else `matrix-store`
        beside the SQLite database file, else `./matrix-store`."""
        if self.matrix_store_path:
            return Path(self.matrix_store_path)
        from sqlalchemy.engine import make_url

        url = make_url(self.database_url)
        if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
            return Path(url.database).parent / "matrix-store"
        return Path("matrix-store")

    def missing(self, platform: str) -> list[str]:
        """The settings a platform needs that are not set (nothing for the console)."""
        if platform == "slack":
            missing = [] if self.slack_bot_token else ["SLACK_BOT_TOKEN"]
            if not (self.slack_app_token or self.slack_signing_secret):
                missing.append("SLACK_APP_TOKEN (Socket Mode) or SLACK_SIGNING_SECRET (HTTP)")
            return missing
        if platform == "matrix":
            needed = {"MATRIX_HOMESERVER": self.matrix_homeserver,
                      "MATRIX_USER_ID": self.matrix_user_id}  # fmt: skip
            missing = [key for key, value in needed.items() if not value]
            if not (self.matrix_password or self.matrix_access_token):
                missing.append("MATRIX_PASSWORD or MATRIX_ACCESS_TOKEN")
            return missing
        return []

    @property
    def slack_enabled(self) -> bool:
        return not self.missing("slack")

    @property
    def matrix_enabled(self) -> bool:
        return not self.missing("matrix")
