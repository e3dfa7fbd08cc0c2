"""Settings, read once from the environment (prefix `CASELINE_`), failing fast when wrong."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class GridBox(BaseModel):
    """A grid's bounding box (WGS84): Open311 requests located inside it land in that grid's unit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: str = Field(min_length=1, max_length=120)
    south: float = Field(ge=-90, le=90)
    west: float = Field(ge=-180, le=180)
    north: float = Field(ge=-90, le=90)
    east: float = Field(ge=-180, le=180)

    @model_validator(mode="after")
    def _ordered(self) -> GridBox:
        if self.south > self.north or self.west > self.east:
            raise ValueError(f"grid {self.unit!r}: south must not exceed north, nor west east")
        return self

    def contains(self, latitude: float, longitude: float) -> bool:
        """Whether the point lies inside the box (edges included)."""
        return self.south <= latitude <= self.north and self.west <= longitude <= self.east


class Settings(BaseSettings):
    """Every setting has a documented default (docs/configuration.md)."""

    model_config = SettingsConfigDict(env_prefix="CASELINE_", extra="ignore")

    data_dir: Path = Field(Path("var"), description="Folder of the embedded SQLite files.")
    database_url: str | None = Field(
        None, description="postgresql://user:password@host:port/dbname; set it to use PostgreSQL."
    )
    database_schema: str | None = Field(None, description="PostgreSQL schema for Caseline's tables.")
    satisfaction_target: float = Field(0.95, gt=0, le=1, description="Share needed to close.")
    jwt_secret: str | None = Field(
        None, description="HS256 signing key (32+ chars); generated into the data folder if unset."
    )
    token_minutes: int = Field(15, ge=1, le=24 * 60, description="Lifetime of an access token.")
    login_per_minute: int = Field(10, ge=1, le=10_000, description="Login attempts per client per minute.")
    public_submissions_per_minute: int = Field(
        20, ge=1, le=10_000, description="Public submissions per client per minute."
    )
    run_projector: bool = Field(True, description="`caseline serve` runs the projector in a thread.")
    command_retries: int = Field(16, ge=1, le=100, description="Retries on a version conflict.")
    open311_grids: list[GridBox] = Field(
        default_factory=list,
        max_length=10_000,
        description="Grid bounding boxes (JSON list) placing Open311 requests in a unit; first match wins.",
    )
    open311_default_unit: str = Field(
        "unassigned", min_length=1, max_length=120, description="Unit of Open311 requests outside every grid."
    )
    open311_anonymous: bool = Field(
        True, description="Accept Open311 requests without an api_key (rate limited, answered with a token)."
    )
    open311_jurisdiction: str | None = Field(
        None, max_length=200, description="The jurisdiction_id this endpoint answers to; any if unset."
    )
    open311_contact: str = Field(
        "Ask the district office that runs this service.",
        min_length=1,
        max_length=500,
        description="Open311 discovery: how to reach the people running the endpoint.",
    )
    open311_key_service: str = Field(
        "An administrator issues keys: caseline api-keys create NAME --role recorder.",
        min_length=1,
        max_length=500,
        description="Open311 discovery: how to get an api_key.",
    )
    open311_base_url: str | None = Field(
        None,
        max_length=500,
        description="Public URL of /open311/v2 for discovery (behind a proxy); from the request if unset.",
    )

    @field_validator("database_url")
    @classmethod
    def _postgres_only(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        scheme = urlsplit(value).scheme
        if scheme not in ("postgresql", "postgres"):
            raise ValueError("CASELINE_DATABASE_URL must start with postgresql://")
        if not urlsplit(value).path.strip("/"):
            raise ValueError("CASELINE_DATABASE_URL must name a database")
        return value

    @property
    def uses_postgres(self) -> bool:
        return self.database_url is not None

    def event_store_env(self) -> dict[str, str]:
        """The eventsourcing library's settings for the configured store."""
        if self.database_url is None:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "events.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        url = urlsplit(self.database_url)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": url.path.strip("/"),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(url.port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
        }
        if self.database_schema:
            env["POSTGRES_SCHEMA"] = self.database_schema
        return env
