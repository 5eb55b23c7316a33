"""The rendered Dovecot configuration, checked by Dovecot's own parser (doveconf)."""

import os
import stat
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from mailstore import dovecot


@pytest.fixture
def config(tmp_path):
    base = dovecot.config_from_settings()
    return replace(
        base,
        directory=tmp_path / "dovecot",
        mail_store_dir=tmp_path / "mail",
        cert_file=tmp_path / "tls" / "cert.pem",
        key_file=tmp_path / "tls" / "key.pem",
        internal_base_url="http://127.0.0.1:18000",
    )


def doveconf(config, *args: str) -> str:
    result = subprocess.run(  # noqa: S603
        ["doveconf", "-c", str(config.conf_path), *args],
        capture_output=True,
        text=True,
        check=True,  # noqa: S607
    )
    return result.stdout


def test_rendered_configuration_is_valid_and_keeps_the_measured_settings(config):
    dovecot.render(config)
    values = doveconf(
        config,
        "-h",
        "quota_full_tempfail",
        "lmtp_rcpt_check_quota",
        "auth_master_user_separator",
        "base_dir",
        "auth_policy_server_url",
    )
    assert values.splitlines() == [
        "no",
        "yes",
        "*",
        str(config.directory / "run"),
        "http://127.0.0.1:18000/internal/auth-policy/",
    ]


def test_passdbs_are_master_then_app_passwords_then_main_password(config):
    dovecot.render(config)
    text = doveconf(config, "-n")
    positions = [
        text.index(f"args = {arg}")
        for arg in (
            f"scheme=SSHA256 {config.directory / 'master-users'}",
            str(config.directory / "sql-app.conf.ext"),
            str(config.directory / "sql-main.conf.ext"),
        )
    ]
    assert positions == sorted(positions)
    assert "master = yes" in text.split("args = ")[1]


def test_secrets_are_not_world_readable(config):
    dovecot.render(config)
    modes = {
        name: stat.S_IMODE((config.directory / name).stat().st_mode)
        for name in ("sql-app.conf.ext", "sql-main.conf.ext", "dict-sql.conf.ext", "master-users")
    }
    assert modes == dict.fromkeys(modes, 0o640)
    assert config.master_password not in (config.directory / "master-users").read_text()
    # The auth policy's API key: in a root-only file dovecot.conf includes, not in dovecot.conf.
    policy = config.directory / "auth-policy.conf.ext"
    assert stat.S_IMODE(policy.stat().st_mode) == 0o600
    assert f"X-API-Key: {config.internal_api_token}" in policy.read_text()
    assert config.internal_api_token not in config.conf_path.read_text()
    assert doveconf(config, "-h", "auth_policy_server_api_header").strip() == (
        f"X-API-Key: {config.internal_api_token}"
    )


def test_a_secret_file_never_exists_with_a_wider_mode(config, monkeypatch):
    # Given a permissive umask, as a shell may have
    old_umask = os.umask(0o000)
    try:
        created = []
        real_open = os.open

        def spy(path, flags, mode=0o777, *args, **kwargs):
            fd = real_open(path, flags, mode, *args, **kwargs)
            created.append((Path(path).name, stat.S_IMODE(os.fstat(fd).st_mode)))
            return fd

        monkeypatch.setattr(os, "open", spy)
        dovecot.render(config)
    finally:
        os.umask(old_umask)
    # Then each file was created with its final, narrow mode before anything was written
    modes = dict(created)
    assert modes["sql-main.conf.ext.tmp"] == modes["master-users.tmp"] == 0o640
    assert modes["auth-policy.conf.ext.tmp"] == 0o600


@pytest.mark.parametrize(("mode", "expected"), [("closed", "yes"), ("open", "no")])
def test_auth_policy_reject_on_fail_follows_the_fail_mode(config, settings, mode, expected):
    settings.AUTH_POLICY_FAIL_MODE = mode
    paths = ("directory", "mail_store_dir", "cert_file", "key_file", "internal_base_url")
    rendered = replace(dovecot.config_from_settings(), **{name: getattr(config, name) for name in paths})
    dovecot.render(rendered)
    assert doveconf(rendered, "-h", "auth_policy_reject_on_fail").strip() == expected


def test_without_internal_base_url_there_is_no_auth_policy(config):
    dovecot.render(replace(config, internal_base_url=""))
    assert "auth_policy_server_url" not in config.conf_path.read_text()


def test_maildir_path_is_keyed_by_the_mailbox_id_never_the_address(config):
    # (Was keyed by domain and local part: a new mailbox with a deleted one's address inherited
    # its mail. Issue 12: stores are keyed by the immutable mailbox id.)
    assert dovecot.maildir_path(42, config=config) == config.mail_store_dir / "mailboxes" / "42" / "Maildir"


def test_userdb_returns_a_home_derived_from_the_mailbox_id(config):
    dovecot.render(config)
    main = (config.directory / "sql-main.conf.ext").read_text()
    assert f"'{config.mail_store_dir}/mailboxes/' || mailbox_id AS home" in main
    assert "%d/%n" not in config.conf_path.read_text()


def test_a_store_path_dovecot_or_sql_would_misread_is_refused(config):
    with pytest.raises(dovecot.DovecotError, match="may not contain"):
        dovecot.render(replace(config, mail_store_dir=config.mail_store_dir / "it's"))
