"""The rendered rspamd configuration is one rspamd itself accepts (rspamadm configtest), takes
nothing from /etc/rspamd/local.d, and says what the settings say."""

import subprocess

from mta.rspamd_config import RspamdConfig, config_from_settings, local_files, render, variables


def config(tmp_path, **kwargs) -> RspamdConfig:
    defaults = dict(
        directory=tmp_path / "rspamd",
        bind="127.0.0.1",
        normal_port=21333,
        controller_port=21334,
        redis_url="redis://127.0.0.1:6379/4",
        dns_resolver="127.0.0.1:5353",
    )
    return RspamdConfig(**(defaults | kwargs))


def test_rendered_configuration_passes_rspamds_own_check(tmp_path):
    cfg = config(tmp_path, network_checks=False)
    conf = render(cfg)
    var_args = [f"--var={k}={v}" for k, v in variables(cfg).items()]
    result = subprocess.run(
        ["rspamadm", *var_args, "configtest", "-c", str(conf)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "syntax OK" in result.stdout
    local = cfg.directory / "local.d"
    assert (local / "greylist.conf").read_text() == "enabled = false;\n"
    assert (local / "rbl.conf").read_text() == "enabled = false;\n"
    assert 'nameserver = ["127.0.0.1:5353"]' in (local / "options.inc").read_text()
    assert (local / "redis.conf").read_text() == 'servers = "127.0.0.1:6379";\ndb = "4";\n'
    assert "127.0.0.1:21333" in conf.read_text() and "127.0.0.1:21334" in conf.read_text()


def test_the_controller_never_runs_without_a_password(tmp_path):
    # no password set: one nobody knows (only secure_ip peers, loopback, get in), new at each render
    cfg = config(tmp_path)
    render(cfg)
    first = (cfg.directory / "local.d" / "worker-controller.inc").read_text()
    render(cfg)
    second = (cfg.directory / "local.d" / "worker-controller.inc").read_text()
    assert 'secure_ip = "127.0.0.1";' in first and "password = " in first and first != second
    # a password set is the one written, in a file others cannot read
    cfg = config(tmp_path, password="s3cret-for-remote-peers", greylisting=True)
    render(cfg)
    inc = cfg.directory / "local.d" / "worker-controller.inc"
    assert 'password = "s3cret-for-remote-peers";' in inc.read_text()
    assert inc.stat().st_mode & 0o007 == 0
    assert (cfg.directory / "local.d" / "greylist.conf").read_text() == "enabled = true;\n"


def test_clamav_off_by_default_and_on_renders_a_rejecting_antivirus_rule_rspamd_accepts(tmp_path, settings):
    assert "antivirus.conf" not in local_files(config_from_settings())
    settings.CLAMAV, settings.CLAMAV_SOCKET = True, "127.0.0.1:3999"
    cfg = config_from_settings(directory=tmp_path / "rspamd")
    conf = render(cfg)
    antivirus = (cfg.directory / "local.d" / "antivirus.conf").read_text()
    assert 'servers = "127.0.0.1:3999";' in antivirus and 'action = "reject";' in antivirus
    assert 'expression = "CLAM_VIRUS_FAIL";' in (cfg.directory / "local.d" / "force_actions.conf").read_text()
    var_args = [f"--var={k}={v}" for k, v in variables(cfg).items()]
    result = subprocess.run(
        ["rspamadm", *var_args, "configtest", "-c", str(conf)], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
