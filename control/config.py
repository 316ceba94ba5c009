"""Daemon configuration: a TOML file (`mediacore serve --config path`), overridden by
`MEDIACORE_<NAME>` environment variables, over the defaults below. Flat keys, one per
setting, the same names in the file and (upper-cased) in the environment:

    # mediacore.toml
    host = "0.0.0.0"
    port = 8080
    allowed_networks = ["10.0.0.0/8"]

    MEDIACORE_PORT=9000 MEDIACORE_ALLOWED_NETWORKS=127.0.0.0/8,::1/128 mediacore serve

Lists in the environment are comma-separated; booleans are true/false (1/0, yes/no).
Unknown keys in the file and values of the wrong type are refused with a `ConfigError` that
names the key, so a typo never passes silently; a `MEDIACORE_*` variable that is no setting
is listed by `unknown_environment` (the daemon logs a warning: other tools use the prefix
too, e.g. the build switches). Every key is documented in control/README.md.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import pathlib
import tomllib
import types
import typing
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

ENV_PREFIX = "MEDIACORE_"
# variables that configure other parts of mediacore, not the daemon (build and SIMD switches)
_NOT_SETTINGS = {"DEBUG", "SANITIZE", "ANNOTATE", "NO_AVX2", "SIMD"}
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class ConfigError(ValueError):
    """A setting is unknown or has a value of the wrong type; the message names it."""


@dataclasses.dataclass(frozen=True)
class Settings:
    # HTTP API
    host: str = "127.0.0.1"
    port: int = 8080
    tls_cert: str | None = None         # PEM file; with tls_key, the API is served over TLS
    tls_key: str | None = None
    plain_port: int | None = None       # with TLS: also serve plain HTTP here (e.g. health)
    body_limit_bytes: int = 64 * 1024
    rate_limit_per_s: float = 20.0      # per account, token bucket
    rate_limit_burst: int = 40
    # store
    data_dir: str = "./mediacore-data"
    database_url: str | None = None     # default: sqlite:///<data_dir>/mediacore.db
    secret: str | None = None           # Fernet key sealing auth tokens (default: file)
    secret_path: str | None = None
    # address safety (SPEC §2.1): networks allowed for service_url and callback URLs
    allowed_networks: tuple[str, ...] = ()
    allow_plain_ws: bool = False
    ca_file: str | None = None          # CA bundle for wss:// (default: the system store)
    # accounts, metering, callbacks
    default_rate_per_minute: Decimal = Decimal("0.00300")
    # per-account rates that override the rate stored with the account: "AUTH_ID=0.00400"
    account_rates: tuple[str, ...] = ()
    checkpoint_interval_s: float = 10.0
    callback_retry_max_s: float = 3600.0
    callback_http2: bool = True
    # engine
    max_streams: int | None = None
    max_streams_per_call: int = 10
    gc_freeze: bool = True              # freeze what survives each full collection
    gc_sweep_s: float = 3600.0          # then one full collection of everything this often
    # ingress (SPEC §2.3)
    rtp_host: str = "0.0.0.0"
    rtp_port_min: int = 40000
    rtp_port_max: int = 40999
    rtp_advertised_host: str | None = None
    audiosocket_host: str = "0.0.0.0"
    audiosocket_port: int | None = None
    inactivity_timeout_s: float = 30.0
    # logs
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"port must be from 0 to 65535, not {self.port}")
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ConfigError("tls_cert and tls_key go together: set both or neither")
        if self.plain_port is not None and self.tls_cert is None:
            raise ConfigError("plain_port is an extra plain-HTTP listener beside TLS; without "
                              "tls_cert the API is plain HTTP on port already")
        if self.body_limit_bytes < 1024:
            raise ConfigError("body_limit_bytes must be at least 1024")
        if not self.rate_limit_per_s > 0 or self.rate_limit_burst < 1:
            raise ConfigError("rate_limit_per_s must be positive and rate_limit_burst at least 1")
        for net in self.allowed_networks:
            try:
                ipaddress.ip_network(net)
            except ValueError:
                raise ConfigError(f"allowed_networks: {net!r} is not a network in CIDR "
                                  f"notation (e.g. 10.0.0.0/8)") from None
        if self.default_rate_per_minute < 0:
            raise ConfigError("default_rate_per_minute must not be negative")
        _ = self.rates_by_account  # checks every entry
        if not 0 < self.rtp_port_min <= self.rtp_port_max <= 65535:
            raise ConfigError("rtp_port_min..rtp_port_max must be a port range within 1-65535")
        if self.max_streams is not None and self.max_streams < 1:
            raise ConfigError("max_streams must be at least 1 (leave it out for no limit)")
        if self.max_streams_per_call < 1:
            raise ConfigError("max_streams_per_call must be at least 1")
        if not self.gc_sweep_s > 0:
            raise ConfigError("gc_sweep_s must be a positive number of seconds")
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")

    @property
    def rates_by_account(self) -> dict[str, Decimal]:
        """account_rates as {auth_id: per-minute rate}."""
        rates = {}
        for entry in self.account_rates:
            auth_id, _, rate = entry.partition("=")
            try:
                value = Decimal(rate.strip())
            except InvalidOperation:
                value = Decimal(-1)
            if not auth_id.strip() or not value.is_finite() or value < 0:
                raise ConfigError(f"account_rates: {entry!r} is not AUTH_ID=RATE with a "
                                  f"per-minute rate of zero or more (e.g. MA...=0.00400)")
            rates[auth_id.strip()] = value
        return rates

    @property
    def store_url(self) -> str:
        if self.database_url:
            return self.database_url
        path = pathlib.Path(self.data_dir).expanduser().resolve() / "mediacore.db"
        return f"sqlite:///{path}"

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)


_FIELDS = {f.name: f for f in dataclasses.fields(Settings)}
_HINTS = typing.get_type_hints(Settings)


def load(path: str | os.PathLike | None = None,
         environ: Mapping[str, str] | None = None) -> Settings:
    """Defaults, then the TOML file at `path` (if any), then MEDIACORE_* variables."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    if path is not None:
        try:
            with open(path, "rb") as f:
                document = tomllib.load(f)
        except OSError as exc:
            raise ConfigError(f"cannot read the config file {path}: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"the config file {path} is not valid TOML: {exc}") from None
        for key, value in document.items():
            if key not in _FIELDS:
                raise ConfigError(f"unknown setting {key!r} in {path}")
            values[key] = _convert(key, value, f"{key} in {path}")
    for name, text in environ.items():
        if not name.startswith(ENV_PREFIX):
            continue
        key = name[len(ENV_PREFIX):].lower()
        if key in _FIELDS:
            values[key] = _convert(key, text, name, from_env=True)
    return Settings(**values)


def unknown_environment(environ: Mapping[str, str] | None = None) -> list[str]:
    """MEDIACORE_* variables that are no setting (likely typos), for a warning."""
    environ = os.environ if environ is None else environ
    return sorted(name for name in environ if name.startswith(ENV_PREFIX)
                  and name[len(ENV_PREFIX):].lower() not in _FIELDS
                  and name[len(ENV_PREFIX):] not in _NOT_SETTINGS
                  and not name.startswith(ENV_PREFIX + "TEST_"))


def _convert(key: str, value: Any, where: str, *, from_env: bool = False) -> Any:
    hint = _HINTS[key]
    optional = False
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        hint = args[0]
    if optional and (value is None or (from_env and value.strip() == "")):
        return None
    try:
        if typing.get_origin(hint) is tuple:
            if from_env:
                return tuple(part.strip() for part in value.split(",") if part.strip())
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise TypeError
            return tuple(value)
        if hint is bool:
            if isinstance(value, bool):
                return value
            if from_env and value.strip().lower() in ("true", "1", "yes", "on"):
                return True
            if from_env and value.strip().lower() in ("false", "0", "no", "off"):
                return False
            raise TypeError
        if hint is int:
            if isinstance(value, bool):
                raise TypeError
            if isinstance(value, int):
                return value
            if from_env:
                return int(value.strip())
            raise TypeError
        if hint is float:
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return float(value)
            if from_env:
                return float(value.strip())
            raise TypeError
        if hint is Decimal:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise TypeError
            return Decimal(str(value).strip())
        if hint is str:
            if not isinstance(value, str):
                raise TypeError
            return value
    except (TypeError, ValueError, InvalidOperation):
        pass
    else:
        raise AssertionError(f"no conversion for {hint}")  # a new Settings type
    kind = {bool: "true or false", int: "a whole number", float: "a number",
            Decimal: "a decimal number (e.g. \"0.00300\")", str: "a string"}.get(
        hint, "a list of strings" + (" separated by commas" if from_env else ""))
    raise ConfigError(f"{where} must be {kind}, not {value!r}")
