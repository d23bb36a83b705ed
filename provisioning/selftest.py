"""The *self-test* step: the devices named in kiosk.toml answer through the HAL (built by the same factory the
kiosk uses), and the server's health answers over mTLS at the configured URL (through the tunnel when there is
one).  Each check is a line of the readiness report."""
from __future__ import annotations

import asyncio

import httpx

from firmware.config import load_config
from firmware.server_client import tls_context
from hal.factory import build_devices
from provisioning.layout import Layout
from provisioning.preflight import Check


async def _devices(devices_config) -> list[Check]:
    checks: list[Check] = []
    devices = build_devices(devices_config)
    events: list = []

    async def sink(event) -> None:
        events.append(event)

    try:
        await devices.start_all(sink)
    except Exception as exc:  # a device that does not start is the answer
        return [Check("devices start", False, f"{type(exc).__name__}: {exc}"[:200],
                      "check the cables and the ports in the answers file")]
    try:
        reader = devices.card_reader.state()
        checks.append(Check("card reader", reader.name not in ("NO_READER", "FAULT"), reader.name.lower()))
        status = await devices.printer.status()
        checks.append(Check("printer", bool(status.can_print), status.state.value,
                            "" if status.can_print else "load paper, close the cover"))
        for name, device in (("note validator", devices.notes), ("coin acceptor", devices.coins)):
            state = device.state()
            table = ", ".join(str(v) for v in sorted(device.denominations())) or "none"
            checks.append(Check(name, not state.out_of_service and table != "none",
                                f"{'in service' if not state.out_of_service else 'out of service'}; accepts {table} yen",
                                "" if not state.out_of_service else "clear the device"))
        for hopper in devices.hoppers:
            state = hopper.state()
            checks.append(Check(f"hopper {hopper.coin_value} yen", True, getattr(state, "name", str(state)).lower()))
        checks += await _outputs(devices)
        door = devices.signals.door_closed()
        checks.append(Check("door", door, "closed" if door else "open", "" if door else "close the service door"))
    finally:
        await devices.stop_all()
    return checks


async def _outputs(devices) -> list[Check]:
    """A test page, a voice prompt, a light and buzzer pattern: the technician sees and hears them."""
    from hal.printer import PageRaster
    from hal.signals import BuzzerPattern, GuideLight, LightPattern

    width, height = 576, 64
    rows = b"".join((bytes([0xF0]) if (y // 8) % 2 == 0 else bytes(1)) * (width // 8) for y in range(height))
    try:
        await devices.printer.print_page(PageRaster(width, height, 203, rows, label="self-test"))
        await devices.printer.cut()
        page = Check("printer test page", True, "printed and cut (take it from the outlet)")
    except Exception as exc:
        page = Check("printer test page", False, f"{type(exc).__name__}", "check the paper path and the cutter")
    spoken = await devices.voice.say("prompt.return_card", "ja")
    voice = Check("voice prompt", bool(spoken), "played prompt.return_card" if spoken else "not played",
                  "" if spoken else "check the speaker and the rendered prompts (scripts/render_voice.py)")
    lit = []
    for light in GuideLight:
        devices.signals.set_light(light, LightPattern.PULSE)
        lit.append(devices.signals.light(light) is LightPattern.PULSE)
        devices.signals.set_light(light, LightPattern.OFF)
    devices.signals.buzz(BuzzerPattern.CONFIRM)
    buzzed = devices.signals.buzzer() is BuzzerPattern.CONFIRM
    devices.signals.buzz(BuzzerPattern.SILENT)
    signals = Check("lights and buzzer", all(lit) and buzzed, f"{sum(lit)}/{len(lit)} lights pulsed, buzzer "
                    f"{'beeped' if buzzed else 'silent'}", "" if all(lit) and buzzed else "check the GPIO wiring")
    return [page, voice, signals]


def _server(config) -> Check:
    url = config.server.url + "/v1/health"
    try:
        with httpx.Client(verify=tls_context(config.server), trust_env=False, timeout=config.server.timeout_s) as c:
            reply = c.get(url)
    except (httpx.HTTPError, OSError) as exc:
        return Check("server health (mTLS)", False, f"{url}: {type(exc).__name__}",
                     "is the tunnel up (kiosk-vpn)? is the server running?")
    ok = reply.status_code == 200
    return Check("server health (mTLS)", ok, f"{url}: HTTP {reply.status_code}",
                 "" if ok else "the server refused this kiosk's certificate: was it revoked?")


def run(layout: Layout, bring_up_tunnel: bool = True):
    """(checks, link); with ``bring_up_tunnel`` (and a tunnel provisioned) the tunnel is brought up for the server
    check when it is not up yet: ``link`` is then that link, left up for the report to be sent, and the caller
    takes it down (kiosk-vpn keeps the tunnel afterwards).  Taken down here if the checks themselves fail."""
    config = load_config(layout.kiosk_toml)
    checks = asyncio.run(_devices(config.devices))
    link = None
    if bring_up_tunnel and layout.network_file.exists():
        from firmware.network import Link, TunnelSpec, interface_exists

        spec = TunnelSpec.load(layout.network_file)
        if interface_exists(spec.interface):
            checks.append(Check("vpn link", True, f"{spec.interface} already up"))
        else:
            link = Link(spec, layout.wireguard_conf)
            try:
                checks.append(Check("vpn link", True, f"{spec.interface} up with {link.up()} for the self-test"))
            except (RuntimeError, OSError) as exc:
                checks.append(Check("vpn link", False, str(exc)[:200], "apt-get install wireguard-go wireguard-tools"))
                link.down()
                link = None
    try:
        checks.append(_server(config))
        if link is not None:
            age = link.handshake_age()
            checks.append(Check("vpn handshake", age is not None and age <= 180,
                                "none" if age is None else f"{age:.0f} s ago", "" if age is not None else
                                "the server does not know this kiosk's WireGuard key: run kiosk-server vpn-config"))
    except BaseException:
        if link is not None:
            link.down()
        raise
    return checks, link
