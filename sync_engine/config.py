"""Runtime configuration: one pydantic-settings class read from ``CWSYNC_*`` variables and ``.env``.

Everything configurable lives here. Code never reads the environment itself; it receives a
``Settings`` built by :func:`get_settings`, so tests pass their own values.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DATA_DIR = Path("data")


class Settings(BaseSettings):
    """All settings of the engine, the dashboard and the embedded demo."""

    model_config = SettingsConfigDict(
        env_prefix="CWSYNC_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    database_url: str = Field(
        default=f"sqlite:///{DATA_DIR / 'cwsync.db'}",
        description="SQLAlchemy URL of the store: SQLite file (default) or postgresql+psycopg://",
    )
    encryption_key: SecretStr | None = Field(
        default=None,
        description="Fernet key for credentials at rest; without it a key file under data/ is used",
    )
    key_file: Path = Field(
        default=DATA_DIR / "secret.key",
        description="Where the generated Fernet key lives when no encryption key is configured",
    )
    sync_interval_seconds: float = Field(default=5.0, gt=0, le=3600)
    lease_seconds: float = Field(default=120.0, gt=0, description="How long a claim holds work")
    max_attempts: int = Field(default=6, ge=1, le=50, description="Attempts before 'failed'")
    backoff_base_seconds: float = Field(default=2.0, gt=0)
    backoff_max_seconds: float = Field(default=900.0, gt=0)
    workers: int = Field(default=16, ge=1, le=64, description="Concurrent enrollments per pass")
    default_max_rps: float = Field(default=10.0, gt=0, description="Requests/s per connection")
    api_call_log_retention: int = Field(default=5000, ge=100, description="API calls kept")
    http_timeout_seconds: float = Field(default=15.0, gt=0, le=300)
    demo: bool = Field(default=True, description="Seed demo data and start the simulator")
    simulator_host: str = "127.0.0.1"
    simulator_port: int = Field(default=0, ge=0, le=65535, description="0 picks a free port")
    simulator_latency_ms: float = Field(default=80.0, ge=0)
    simulator_state_file: Path = Field(default=DATA_DIR / "simulator.json")

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
