"""`kiosk-server vpn-config` refuses in words when the server has no kiosk network configured."""
import contextlib
import io

from server.cli import main as cli


def test_vpn_config_on_a_server_without_a_kiosk_network_says_so(dev_dir, tmp_path):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli(["vpn-config", "--config", str(dev_dir / "server.toml"), "--output", str(tmp_path / "wg.conf")])
    assert code == 2 and out.getvalue() == "" and "no [vpn] table" in err.getvalue()
    assert not (tmp_path / "wg.conf").exists()
