"""control/config.py: defaults, TOML file, MEDIACORE_* overrides, errors that name the key."""

from __future__ import annotations

from decimal import Decimal

import pytest

from control.config import ConfigError, Settings, load, unknown_environment


def test_defaults_need_no_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    settings = load(None, environ={})
    assert settings == Settings()
    assert settings.store_url == f"sqlite:///{tmp_path}/mediacore-data/mediacore.db"
    assert settings.default_rate_per_minute == Decimal("0.00300")


def test_file_then_environment(tmp_path):
    path = tmp_path / "mediacore.toml"
    path.write_text('host = "0.0.0.0"\nport = 9000\nallowed_networks = ["10.0.0.0/8"]\n'
                    'allow_plain_ws = true\ndefault_rate_per_minute = "0.00450"\n'
                    'max_streams = 500\nrate_limit_per_s = 5\n'
                    'database_url = "postgresql+psycopg://u@db/mc"\n')
    settings = load(path, environ={"MEDIACORE_PORT": "9100",
                                   "MEDIACORE_ALLOWED_NETWORKS": "127.0.0.0/8, ::1/128",
                                   "MEDIACORE_ALLOW_PLAIN_WS": "false",
                                   "MEDIACORE_MAX_STREAMS": "", "OTHER": "x"})
    assert settings.host == "0.0.0.0" and settings.port == 9100
    assert settings.allowed_networks == ("127.0.0.0/8", "::1/128")
    assert settings.allow_plain_ws is False and settings.max_streams is None
    assert settings.default_rate_per_minute == Decimal("0.00450")
    assert settings.rate_limit_per_s == 5.0
    assert settings.store_url == "postgresql+psycopg://u@db/mc"


@pytest.mark.parametrize("text, words", [
    ("prot = 1\n", "unknown setting 'prot'"),
    ('port = "80"\n', "port in"),
    ("allow_plain_ws = 1\n", "true or false"),
    ('allowed_networks = "10.0.0.0/8"\n', "list of strings"),
    ('allowed_networks = ["nope"]\n', "CIDR"),
    ("port = 70000\n", "port must be"),
    ('tls_cert = "a.pem"\n', "tls_key"),
    ('log_level = "LOUD"\n', "log_level"),
    ("rtp_port_min = 5000\nrtp_port_max = 4000\n", "rtp_port_min"),
    ("port = [\n", "not valid TOML"),
    ("gc_sweep_s = 0\n", "gc_sweep_s must be a positive"),
    ("gc_sweep_s = nan\n", "gc_sweep_s must be a positive"),
])
def test_file_errors_name_the_key(tmp_path, text, words):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=words.replace("[", r"\[").replace("(", r"\(")):
        load(path, environ={})


@pytest.mark.parametrize("name, value, words", [
    ("MEDIACORE_PORT", "eighty", "MEDIACORE_PORT must be a whole number"),
    ("MEDIACORE_ALLOW_PLAIN_WS", "maybe", "true or false"),
    ("MEDIACORE_DEFAULT_RATE_PER_MINUTE", "cheap", "decimal"),
    ("MEDIACORE_RATE_LIMIT_PER_S", "fast", "a number"),
    ("MEDIACORE_GC_FREEZE", "sometimes", "true or false"),
])
def test_environment_errors_name_the_variable(name, value, words):
    with pytest.raises(ConfigError, match=words):
        load(None, environ={name: value})


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the config file"):
        load(tmp_path / "absent.toml", environ={})


def test_unknown_environment_lists_likely_typos_only():
    environ = {"MEDIACORE_PROT": "1", "MEDIACORE_PORT": "1", "MEDIACORE_SIMD": "avx2",
               "MEDIACORE_TEST_POSTGRES_URL": "x", "HOME": "/"}
    assert unknown_environment(environ) == ["MEDIACORE_PROT"]


def test_account_rates_from_the_file_and_the_environment(tmp_path):
    path = tmp_path / "m.toml"
    path.write_text('account_rates = ["MAAAAAAAAAAAAAAAAAAA=0.00400"]\n')
    assert load(path, {}).rates_by_account == {"MAAAAAAAAAAAAAAAAAAA": Decimal("0.00400")}
    env = {"MEDIACORE_ACCOUNT_RATES": "MAB=0.002, MAC=0"}
    assert load(path, env).rates_by_account == {"MAB": Decimal("0.002"), "MAC": Decimal("0")}


@pytest.mark.parametrize("entry", ["MA1", "MA1=", "=0.1", "MA1=-0.1", "MA1=cheap", "MA1=NaN"])
def test_a_bad_account_rate_is_refused_by_name(entry):
    with pytest.raises(ConfigError, match="account_rates"):
        load(None, {"MEDIACORE_ACCOUNT_RATES": entry})
