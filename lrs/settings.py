"""One typed settings object, read from `LRS_*` environment variables."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from lrs.versions import XAPIVersion

DEMO_KEY = "demo"
DEMO_SECRET = "demo-secret"  # noqa: S105 - development-only default, refused in production


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LRS_", env_nested_delimiter="__")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./lrs.db"
    # Where this LRS is reached from outside; the homePage of credential authorities.
    public_url: str = "http://localhost:8000"
    # Created at start-up with scope `all` on the default tenant when no credential has this key.
    admin_key: str | None = DEMO_KEY
    admin_secret: str | None = DEMO_SECRET
    default_tenant: str = "default"
    # Request limits (xAPI-Communication 3.2: 413 past them).
    max_request_bytes: int = 64 * 1024 * 1024
    max_batch_statements: int = 1000
    max_document_bytes: int = 16 * 1024 * 1024
    # The largest page a statement query returns; `limit=0` means this (Communication 2.1.3).
    max_query_limit: int = 500
    # How long a verified Basic credential is trusted before its slow hash is checked again.
    credential_cache_seconds: float = 60.0
    cors_origins: list[str] = ["*"]
    # The version an answer names when its request named none: /about, and the 400 for a
    # missing or unknown X-Experience-API-Version.
    default_xapi_version: XAPIVersion = XAPIVersion.V2

    @model_validator(mode="after")
    def refuse_unsafe_defaults(self) -> Settings:
        if self.environment == "production" and self.admin_secret == DEMO_SECRET:
            raise ValueError("LRS_ADMIN_SECRET must be set (or emptied) in production")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")
