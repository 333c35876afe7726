"""One typed settings object, read from `LRS_*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lrs.versions import XAPIVersion

DEMO_KEY = "demo"
DEMO_SECRET = "demo-secret"  # noqa: S105 - development-only default, refused in production
# PostgreSQL connections a process keeps open, and how many more it may open in a burst.
POOL_SIZE, MAX_OVERFLOW = 20, 10
DEV_TOKEN_SECRET = "development-token-secret-change-me"  # noqa: S105 - refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LRS_", env_nested_delimiter="__")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./lrs.db"
    # Optional: a read replica of database_url (e.g. a PostgreSQL streaming standby) that
    # statement, Activity and Agent queries read from. Writes, documents and credentials
    # always use database_url.
    read_database_url: str | None = None
    # PostgreSQL connections each serve worker keeps open, and how many more it may open in a
    # burst (closed again as they come back while the pool is full). A request holds one.
    database_pool_size: int = Field(default=POOL_SIZE, ge=1)
    database_max_overflow: int = Field(default=MAX_OVERFLOW, ge=0)
    # Where this LRS is reached from outside; the homePage of credential authorities.
    public_url: str = "http://localhost:8000"
    # Created at start-up on the default tenant when no credential has this key: every xAPI
    # scope plus `admin`, rolling up over the tenants below the default tenant.
    admin_key: str | None = DEMO_KEY
    admin_secret: str | None = DEMO_SECRET
    default_tenant: str = "default"
    # Request limits (xAPI-Communication 3.2: 413 past them).
    max_request_bytes: int = 64 * 1024 * 1024
    max_batch_statements: int = 1000
    max_document_bytes: int = 16 * 1024 * 1024
    max_attachment_bytes: int = 32 * 1024 * 1024
    # The largest page a statement query returns; `limit=0` means this (Communication 2.1.3).
    max_query_limit: int = 500
    # A request not answered within this many seconds is answered 408 (body still arriving)
    # or 503 and changes nothing; on PostgreSQL it also bounds each statement. 0: no limit.
    request_timeout_seconds: float = 30.0
    # On SIGTERM the server stops accepting and lets requests in flight finish this long.
    shutdown_grace_seconds: int = 30
    # Requests per second a credential may make, per server process (0: no limit), with
    # bursts of up to rate_limit_burst requests; past it, 429 with Retry-After.
    rate_limit_per_second: float = 0.0
    rate_limit_burst: int = 100
    # Failed authentications a client address may make per minute, in bursts of up to the
    # burst, before it gets 429 without its secret being checked (0: no limit).
    failed_logins_per_minute: float = 60.0
    failed_logins_burst: int = 60
    # How long a verified Basic credential is trusted before its slow hash is checked again.
    credential_cache_seconds: float = 60.0
    # Signs the bearer tokens of /oauth/token; every instance of one LRS shares it.
    token_secret: str = DEV_TOKEN_SECRET
    token_seconds: int = 900
    # How often the server applies tenants' retention policies (0: never; `lrs retention
    # apply` and POST /admin/retention/apply still do).
    retention_interval_seconds: float = 3600.0
    # cmi5: how long an AU session (and its fetched credential) lasts after launch; a
    # session still open then is abandoned by a timer that runs this often (0: only at the
    # registration's next launch).
    cmi5_session_seconds: float = 8 * 3600.0
    cmi5_abandon_interval_seconds: float = 60.0
    # The most a zip package may unpack to.
    cmi5_max_package_bytes: int = 512 * 1024 * 1024
    # cmi5 11: the languagePreference written for a learner who has none yet.
    cmi5_language_preference: str = "en-US"
    # Learning analytics: off, statements are stored without learner models (and /analytics
    # answers 404); turned on again, `lrs analytics rebuild` catches the models up.
    analytics_enabled: bool = True
    # A scaled score at or above this makes an `answered` statement
    # without result.success a right answer (analytics/evidence.py).
    analytics_pass_score: float = 0.5
    # Training evaluation: the activity types or category Activity ids that mark a
    # statement as a pre-test, post-test, survey (reaction) or performance-indicator event
    # (analytics/evidence.py); JSON lists. The defaults are placeholders of this LRS: name
    # your content's own.
    analytics_pre_test_markers: list[str] = ["urn:x-lrs:pre-test"]
    analytics_post_test_markers: list[str] = ["urn:x-lrs:post-test"]
    analytics_survey_markers: list[str] = ["urn:x-lrs:survey"]
    analytics_indicator_markers: list[str] = ["urn:x-lrs:indicator"]
    # Views flag an estimate (mastery, a rate, a mean) resting on fewer observations.
    analytics_min_observations: int = 5
    # How often each worker folds the statements queued for the learner models (what was
    # queued when its drain began; a view folds what is queued for its tenants itself).
    analytics_poll_seconds: float = Field(default=0.25, gt=0)
    # How long a view folds what is queued for its tenants before it answers; what is still
    # queued then, it answers without and counts (`"pending"`). Below the request deadline.
    analytics_view_fold_seconds: float = Field(default=10.0, ge=0)
    cors_origins: list[str] = ["*"]
    # The version an answer names when its request named none: /about, and the 400 for a
    # missing or unknown X-Experience-API-Version.
    default_xapi_version: XAPIVersion = XAPIVersion.V2

    @model_validator(mode="after")
    def refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production" and self.admin_secret == DEMO_SECRET:
            raise ValueError("LRS_ADMIN_SECRET must be set (or emptied) in production")
        if self.environment == "production" and self.token_secret == DEV_TOKEN_SECRET:
            raise ValueError("LRS_TOKEN_SECRET must be set in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
