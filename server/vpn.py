"""The server's side of the kiosks' WireGuard network: its key pair, each kiosk's peer and tunnel address, and
the ``wg setconf`` file with every enrolled, unrevoked kiosk (``kiosk-server vpn-config``)."""
from __future__ import annotations

import ipaddress
import logging
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from certs.wireguard_keys import new_private_key, public_key
from server.config import ServerConfig
from server.config_vpn import VpnSettings
from server.db import utcnow
from server.errors import ApiError
from server.models_admin import KioskRecord, KioskTunnel

log = logging.getLogger("server.vpn")


def server_private_key(settings: VpnSettings) -> str:
    """The server's WireGuard private key, made (mode 0600, never replaced) when its file does not exist yet."""
    path = settings.private_key
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(new_private_key() + "\n")
                out.flush()
                os.fsync(out.fileno())
    return path.read_text(encoding="ascii").strip()


def api_url(config: ServerConfig) -> str:
    vpn = config.vpn
    host = f"[{vpn.server_address}]" if vpn.server_address.version == 6 else str(vpn.server_address)
    return vpn.api_url or f"https://{host}:{config.port}"


def register_peer(db: Session, config: ServerConfig, kiosk_id: str, wireguard_public_key: str) -> dict:
    """Record the kiosk's public key and give it a tunnel address (its old one when it had one); the reply's
    ``vpn`` object.  Called inside the enrolment's transaction (the caller commits)."""
    vpn = config.vpn
    if vpn is None:
        raise ApiError(503, "vpn_unavailable", "this server has no [vpn] network: enrol without a WireGuard key")
    taken = db.scalar(select(KioskTunnel).where(KioskTunnel.public_key == wireguard_public_key))
    if taken is not None and taken.kiosk_id != kiosk_id:
        raise ApiError(409, "wireguard_key_in_use", "this WireGuard key belongs to another kiosk: make a new one")
    row = db.get(KioskTunnel, kiosk_id)
    if row is None:
        used = set(db.scalars(select(KioskTunnel.address)))
        address = next((str(h) for h in vpn.network.hosts()
                        if h != vpn.server_address and f"{h}/{h.max_prefixlen}" not in used), None)
        if address is None:
            raise ApiError(503, "vpn_full", "the kiosk network has no free address: widen [vpn].network")
        host = ipaddress.ip_address(address)
        row = KioskTunnel(kiosk_id=kiosk_id, public_key=wireguard_public_key,
                          address=f"{host}/{host.max_prefixlen}", registered_at=utcnow())
        db.add(row)
    else:
        row.public_key, row.registered_at = wireguard_public_key, utcnow()
    return tunnel_reply(config, row)


def tunnel_reply(config: ServerConfig, row: KioskTunnel) -> dict:
    vpn = config.vpn
    return {"address": row.address, "server_public_key": public_key(server_private_key(vpn)),
            "endpoint": vpn.endpoint, "routes": list(vpn.routes), "api_url": api_url(config)}


def active_peers(db: Session) -> list[KioskTunnel]:
    """Every kiosk's peer but those of revoked kiosks, by address."""
    revoked = set(db.scalars(select(KioskRecord.kiosk_id).where(KioskRecord.revoked_at.is_not(None))))
    rows = db.scalars(select(KioskTunnel).order_by(KioskTunnel.kiosk_id)).all()
    return [row for row in rows if row.kiosk_id not in revoked]


def render_setconf(config: ServerConfig, db: Session) -> str:
    """The server's ``wg setconf`` file: its key and port, one [Peer] per active kiosk (AllowedIPs = its /32)."""
    vpn = config.vpn
    lines = ["# written by kiosk-server vpn-config: one peer per enrolled, unrevoked kiosk", "[Interface]",
             f"PrivateKey = {server_private_key(vpn)}", f"ListenPort = {vpn.listen_port}", ""]
    for row in active_peers(db):
        lines += [f"# {row.kiosk_id}", "[Peer]", f"PublicKey = {row.public_key}", f"AllowedIPs = {row.address}", ""]
    return "\n".join(lines)


def write_setconf(config: ServerConfig, db: Session, path: Path) -> int:
    """Write the file atomically (0600: it holds the private key); returns how many peers it lists."""
    text = render_setconf(config, db)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(temporary, path)
    return text.count("[Peer]")


def sync_interface(config: ServerConfig, db: Session) -> bool:
    """Apply the active peers to the live interface named in ``[vpn].interface`` (``wg syncconf``: peers added and
    removed, established sessions kept).  False (logged) when there is none or wg fails; enrolment stands."""
    vpn = config.vpn
    if vpn is None or vpn.interface is None or shutil.which("wg") is None:
        return False
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "peers.conf"
        write_setconf(config, db, path)
        done = subprocess.run(["wg", "syncconf", vpn.interface, str(path)], capture_output=True, text=True,
                              timeout=30)
    if done.returncode != 0:
        log.warning("wg syncconf %s failed: %s", vpn.interface, done.stderr.strip()[:200])
        return False
    log.info("vpn peers applied interface=%s", vpn.interface)
    return True
