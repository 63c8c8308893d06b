"""Runtime configuration: one pydantic-settings class read from ``CWSYNC_*`` variables and ``.env``.

Everything configurable lives here. Code never reads the environment itself; it receives a
``Settings`` built by :func:`get_settings`, so tests pass their own values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

_CHECKOUT = Path(__file__).resolve().parents[1]


def default_data_dir() -> Path:
    """Where the store, the key and the simulator's state live unless ``CWSYNC_DATA_DIR`` says
    otherwise: ``data/`` of the checkout this package runs from (``pip install -e .``), else
    ``~/.local/share/clockwork-sync`` (an installed package has no checkout to write into).
    Absolute either way, so every command and the dashboard find the same files from any
    working directory."""
    if (_CHECKOUT / "pyproject.toml").is_file() and (_CHECKOUT / "sync_engine").is_dir():
        return _CHECKOUT / "data"
    return Path.home() / ".local" / "share" / "clockwork-sync"


class Settings(BaseSettings):
    """All settings of the engine, the dashboard and the embedded demo."""

    model_config = SettingsConfigDict(
        env_prefix="CWSYNC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    data_dir: Path = Field(
        default_factory=default_data_dir,
        description="The data directory: default home of the store, the key and simulator state",
    )
    database_url: str = Field(
        default_factory=lambda: f"sqlite:///{default_data_dir() / 'cwsync.db'}",
        description="SQLAlchemy URL of the store: SQLite file (default: cwsync.db in the data "
        "directory) or postgresql+psycopg://",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for credentials at rest; without it the key file is used",
    )
    key_file: Path = Field(
        default_factory=lambda: default_data_dir() / "secret.key",
        description="The Fernet key file used when no encryption key is configured "
        "(default: secret.key in the data directory)",
    )
    sync_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    lease_seconds: float = Field(default=120.0, gt=0, description="How long a claim holds work")
    max_attempts: int = Field(default=6, ge=1, le=50, description="Attempts before 'failed'")
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    workers: int = Field(
        default=256, ge=1, le=1024, description="Most enrollments in flight at once, all firms"
    )
    account_concurrency: int = Field(
        default=16, ge=1, le=256, description="Most enrollments in flight at once for one firm"
    )
    default_max_rps: float = Field(default=10.0, gt=0, description="Requests/s per connection")
    partition_firms: bool = Field(
        default=True,
        description="Engines sharing a store split the accounts between them, so each firm is "
        "paced by one engine (off: every engine takes every account's work)",
    )
    api_call_log_retention: int = Field(default=5000, ge=100, description="API calls kept")
    http_timeout_seconds: float = Field(
        default=15.0, gt=0, le=300, description="Longest a Clockwork request may take, whole"
    )
    verify_share: float = Field(
        default=0.5, gt=0, le=0.9,
        description="Most of a firm's request budget a verification may use (the rest syncs)",
    )  # fmt: skip
    verify_every_hours: float = Field(
        default=0.0, ge=0, le=24 * 365,
        description="Verify a sample of each connected account this often (0: never)",
    )  # fmt: skip
    verify_sample: int = Field(
        default=100, ge=1, le=100_000, description="Contacts a scheduled verification checks"
    )
    allow_insecure_http: bool = Field(
        default=False, description="Accept a plain http:// Clockwork on another machine"
    )
    demo: bool = Field(default=True, description="Seed demo data and start the simulator")
    simulator_host: str = "127.0.0.1"
    simulator_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    simulator_latency_ms: float = Field(default=80.0, ge=0)
    simulator_state_file: Path = Field(
        default_factory=lambda: default_data_dir() / "simulator.json",
        description="The demo simulator's state (default: simulator.json in the data directory)",
    )

    @model_validator(mode="before")
    @classmethod
    def _paths_in_the_data_dir(cls, values: Any) -> Any:
        # The data directory is made absolute once, here; the files left unset live in it.
        if not isinstance(values, dict):
            return values
        data_dir = Path(values.get("data_dir") or default_data_dir()).expanduser().resolve()
        return {
            "database_url": f"sqlite:///{data_dir / 'cwsync.db'}",
            "key_file": data_dir / "secret.key",
            "simulator_state_file": data_dir / "simulator.json",
            **{key: value for key, value in values.items() if value is not None},
            "data_dir": data_dir,
        }

    @field_validator("database_url")
    @classmethod
    def _known_backend(cls, value: str) -> str:
        if not value.startswith(("sqlite", "postgresql")):
            raise ValueError("database_url must be a sqlite:// or postgresql+psycopg:// URL")
        return value

    @model_validator(mode="after")
    def _lease_outlives_requests(self) -> Settings:
        # A worker past its lease may race another; one slow request must never outlast a lease.
        if self.lease_seconds < 4 * self.http_timeout_seconds:
            raise ValueError(
                "lease_seconds must be at least 4 x http_timeout_seconds "
                f"({self.lease_seconds:g} < 4 x {self.http_timeout_seconds:g})"
            )
        return self


def get_settings(**overrides: object) -> Settings:
    """Build settings from the environment and ``.env``, with explicit overrides winning."""
    return Settings(**overrides)  # type: ignore[arg-type]
