"""Settings, read once from the environment (prefix `CASELINE_`), failing fast when wrong."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.duty import DutyKind
from domain.rules import Level

LEVELS = tuple(level.value for level in Level)
DUTIES = tuple(kind.value for kind in DutyKind)
_LEAD = re.compile(r"^(\d{1,4})\s*([dhm])$")
_UNIT = {"d": "days", "h": "hours", "m": "minutes"}


def parse_leads(text: str) -> tuple[timedelta, ...]:
    """Reminder lead times such as "3d,1d" or "2d, 4h", longest first; refuses anything else."""
    leads = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        match = _LEAD.match(part)
        if match is None or int(match[1]) == 0:
            raise ValueError(f"reminder lead {part!r}: write a positive number with d, h or m, such as 3d")
        leads.add(timedelta(**{_UNIT[match[2]]: int(match[1])}))
    return tuple(sorted(leads, reverse=True))


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
    max_body_bytes: int = Field(
        1_048_576, ge=1024, le=100_000_000, description="Largest request body the API reads (413 above)."
    )
    run_projector: bool = Field(True, description="`caseline serve` runs the projector in a thread.")
    command_retries: int = Field(16, ge=1, le=100, description="Retries on a version conflict.")
    issue_cache: int = Field(
        1000, ge=0, le=1_000_000, description="Items each process keeps in memory between commands (0: none)."
    )
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

    # -- the scheduler: service levels, reminders, recurring duties, e-mail (docs/configuration.md)
    run_scheduler: bool = Field(
        True, description="`caseline serve` runs the scheduler in a thread (scheduler.cli.start_in_process)."
    )
    service_days_grid: int = Field(7, ge=1, le=3650, description="Days an item has at grid level.")
    service_days_village: int = Field(15, ge=1, le=3650, description="Days an item has at village level.")
    service_days_town: int = Field(30, ge=1, le=3650, description="Days an item has at town level.")
    service_days_district: int = Field(60, ge=1, le=3650, description="Days an item has at district level.")
    working_days: bool = Field(
        True, description="Count service levels in working days (holiday calendar), else calendar days."
    )
    holidays_file: Path | None = Field(
        None, description="Holiday/workday override CSV; the shipped scheduler/data/holidays_cn.csv if unset."
    )
    reminder_leads: str = Field(
        "3d,1d",
        max_length=200,
        description="Comma-separated lead times (d, h, m) at which leaders are reminded.",
    )
    duty_units: str = Field(
        "",
        max_length=20_000,
        description="Comma-separated units holding recurring duties; units seen if empty.",
    )
    duties: str = Field(
        "all",
        max_length=200,
        description="Recurring duties to raise: all, or some of " + ", ".join(DUTIES) + ".",
    )
    duty_timezone: str = Field(
        "Asia/Shanghai",
        description="The town's time zone: of the duty calendar (14th, 28th, ...), of the pages' "
        "dates and of the satisfaction report's months.",
    )
    smtp_enabled: bool = Field(False, description="Send inbox notifications by e-mail.")
    smtp_host: str = Field("127.0.0.1", min_length=1, max_length=255, description="SMTP server.")
    smtp_port: int = Field(25, ge=1, le=65535, description="SMTP port.")
    smtp_from: str = Field("caseline@localhost", min_length=3, max_length=255, description="Sender address.")
    smtp_starttls: bool = Field(False, description="Upgrade the SMTP connection with STARTTLS.")
    smtp_username: str | None = Field(
        None, max_length=255, description="SMTP login, if the server needs one."
    )
    smtp_password: SecretStr | None = Field(None, description="SMTP password.")
    smtp_timeout: float = Field(30.0, gt=0, le=600, description="Seconds to wait for the SMTP server.")
    email_max_age_hours: int = Field(
        72, ge=1, le=24 * 365, description="Notifications older than this are not e-mailed (inbox only)."
    )
    supervisors: dict[str, list[str]] = Field(
        default_factory=dict,
        description="E-mail addresses of each level's supervisors (JSON: level -> list).",
    )
    email_directory: dict[str, list[str]] = Field(
        default_factory=dict,
        description="E-mail addresses of other inbox recipients (JSON: leader, recorder, unit/NAME, "
        "standing-committee -> list).",
    )

    @field_validator("reminder_leads")
    @classmethod
    def _leads(cls, value: str) -> str:
        parse_leads(value)
        return value

    @field_validator("duties")
    @classmethod
    def _duties(cls, value: str) -> str:
        names = {n.strip() for n in value.split(",") if n.strip()}
        if names != {"all"} and not names <= set(DUTIES):
            raise ValueError(f"CASELINE_DUTIES: all, or a comma-separated choice of {', '.join(DUTIES)}")
        return value

    @field_validator("duty_timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"CASELINE_DUTY_TIMEZONE: unknown time zone {value!r}") from None
        return value

    @field_validator("supervisors")
    @classmethod
    def _levels(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = set(value) - set(LEVELS)
        if unknown:
            raise ValueError(
                f"CASELINE_SUPERVISORS: levels are {', '.join(LEVELS)}, not {', '.join(sorted(unknown))}"
            )
        return value

    @property
    def reminder_lead_times(self) -> tuple[timedelta, ...]:
        """The reminder lead times, longest first."""
        return parse_leads(self.reminder_leads)

    @property
    def zone(self) -> ZoneInfo:
        """The town's time zone (`duty_timezone`, checked when the settings were read)."""
        return ZoneInfo(self.duty_timezone)

    @property
    def email_max_age(self) -> timedelta:
        """How old a notification may be and still be e-mailed."""
        return timedelta(hours=self.email_max_age_hours)

    @property
    def duty_unit_names(self) -> tuple[str, ...]:
        """The configured duty units (empty: the units seen in the views)."""
        return tuple(dict.fromkeys(u.strip() for u in self.duty_units.split(",") if u.strip()))

    def email_addresses(self, recipient: str) -> list[str]:
        """Where an inbox recipient's e-mail goes: supervisors/LEVEL from `supervisors`, others from
        `email_directory`; empty when nobody is configured."""
        if recipient.startswith("supervisors/"):
            return list(self.supervisors.get(recipient.removeprefix("supervisors/"), []))
        return list(self.email_directory.get(recipient, []))

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
