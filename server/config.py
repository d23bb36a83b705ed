"""The server's configuration: one TOML file, every relative path resolved against the file's directory.

``kiosk-server devinit`` writes a development configuration (``server.toml``) next to the keys it makes.  The
municipality's rules (city name, mayor, fees, copies, whether a My Number may be printed, which certificates the
city offers at kiosks) live here, never in code.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from certs.catalog import CATALOG, CertificateType
from server.config_vpn import VpnSettings, parse_vpn
from server.config_applications import DEV_SECTION as APPLICATIONS_DEV_SECTION
from server.config_applications import ApplicationSettings, parse_applications
from server.config_city import (ConfigError, Hours, RegistrySettings, parse_copies, parse_fees, parse_hours,
                                parse_registry)

FAULTS = ("none", "wrong_subject_page", "extra_copy", "other_kiosk")
__all__ = ["ConfigError", "CitySettings", "ServerConfig", "load_config", "render_config"]


@dataclass(frozen=True)
class CitySettings:
    name: str
    mayor: str
    offered: tuple[CertificateType, ...]
    fees: dict[CertificateType, int]  # what a kiosk charges per copy (window fee less any kiosk discount)
    my_number_allowed: bool = False
    max_copies: int = 5
    window_fees: dict[CertificateType, int] = field(default_factory=dict)  # the counter's fees, for display
    copies: dict[CertificateType, int] = field(default_factory=dict)  # per-certificate limit (else max_copies)
    hours: Hours = field(default_factory=Hours)

    def max_copies_for(self, kind: CertificateType) -> int:
        return self.copies.get(kind, self.max_copies)


@dataclass(frozen=True)
class Lifetimes:
    nonce_s: int = 60
    session_s: int = 600
    quote_s: int = 600


@dataclass(frozen=True)
class ServerConfig:
    path: Path
    host: str
    port: int
    database_url: str
    tls_certificate: Path
    tls_key: Path
    client_ca: Path
    jpki_ca: Path
    jpki_crl: Path
    document_key: Path
    subject_ref_key: Path
    city: CitySettings
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    dev_enabled: bool = False
    fault: str = "none"
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    dev_now: datetime | None = None  # [dev].now: a fixed clock for tests and demos (development servers only)
    device_ca_key: Path | None = None  # [tls].device_ca_key: signs enrolled kiosks' certificates (else no enrolment)
    vpn: "VpnSettings | None" = None  # [vpn]: the WireGuard network kiosks enrol into (server/vpn.py)
    updates_repository: Path | None = None  # [updates].repository: the TUF repository served to kiosks (mTLS)
    applications: ApplicationSettings = field(default_factory=ApplicationSettings)  # [applications]: 電子申請


def _resolve(base: Path, value: object, name: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{name} must be a path")
    path = Path(value)
    return path if path.is_absolute() else (base / path).resolve()


def resolve_database_url(base: Path, url: str) -> str:
    """``sqlite:///relative.db`` is taken relative to the configuration file; other URLs pass unchanged."""
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        return prefix + str((base / url[len(prefix):]).resolve())
    return url


def _table(data: dict, name: str) -> dict:
    value = data.get(name, {})
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}] must be a table")
    return value


def _int(table: dict, key: str, default: int, where: str, minimum: int = 0) -> int:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{where}.{key} must be an integer >= {minimum}")
    return value


def _flag(table: dict, key: str) -> bool:
    value = table.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"[city].{key} must be true or false")
    return value


def load_config(path: str | Path) -> ServerConfig:
    path = Path(path).resolve()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"no configuration file at {path}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path.name} is not valid TOML: {exc}") from None
    base = path.parent
    server, tls, jpki, signing = (_table(data, n) for n in ("server", "tls", "jpki", "signing"))
    city, fees_raw, life, dev = (_table(data, n) for n in ("city", "fees", "lifetimes", "dev"))
    window_fees, fees = parse_fees(fees_raw)
    if not isinstance(city.get("offered", []), list):
        raise ConfigError("[city].offered must be a list of certificate types")
    try:
        offered = tuple(CertificateType.parse(c) for c in city.get("offered", ["residence_record_copy"]))
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"[city].offered: {exc}") from None
    settings = CitySettings(
        name=str(city.get("name", "架空市")), mayor=str(city.get("mayor", "")), offered=offered, fees=fees,
        my_number_allowed=_flag(city, "my_number_allowed"),
        max_copies=_int(city, "max_copies", 5, "city", minimum=1),
        window_fees=window_fees,
        hours=parse_hours(_table(data, "hours")),
    )
    settings = dataclasses.replace(settings, copies=parse_copies(_table(data, "copies"), settings.max_copies))
    dev_enabled = dev.get("enabled", False) is True
    dev_now = _dev_now(dev.get("now"), dev_enabled)
    fault = dev.get("fault", "none")
    if fault not in FAULTS:
        raise ConfigError(f"[dev].fault must be one of {', '.join(FAULTS)}")
    if fault != "none" and not dev_enabled:
        raise ConfigError("[dev].fault needs [dev].enabled = true (development servers only)")
    return ServerConfig(
        path=path,
        host=str(server.get("host", "127.0.0.1")),
        port=_int(server, "port", 8443, "server"),
        database_url=resolve_database_url(base, str(server.get("database_url", "sqlite:///server.db"))),
        tls_certificate=_resolve(base, tls.get("certificate"), "tls.certificate"),
        tls_key=_resolve(base, tls.get("key"), "tls.key"),
        client_ca=_resolve(base, tls.get("client_ca"), "tls.client_ca"),
        jpki_ca=_resolve(base, jpki.get("ca"), "jpki.ca"),
        jpki_crl=_resolve(base, jpki.get("crl"), "jpki.crl"),
        document_key=_resolve(base, signing.get("document_key"), "signing.document_key"),
        subject_ref_key=_resolve(base, signing.get("subject_ref_key"), "signing.subject_ref_key"),
        city=settings,
        lifetimes=Lifetimes(_int(life, "nonce_seconds", 60, "lifetimes", 1),
                            _int(life, "session_seconds", 600, "lifetimes", 1),
                            _int(life, "quote_seconds", 600, "lifetimes", 1)),
        dev_enabled=dev_enabled,
        fault=fault,
        registry=parse_registry(_table(data, "registry")),
        dev_now=dev_now,
        device_ca_key=_resolve(base, tls["device_ca_key"], "tls.device_ca_key") if "device_ca_key" in tls else None,
        vpn=parse_vpn(base, data["vpn"]) if "vpn" in data else None,
        updates_repository=(_resolve(base, _table(data, "updates").get("repository"), "updates.repository")
                            if "updates" in data else None),
        applications=parse_applications(data.get("applications", {})),
    )


def _dev_now(value: object, dev_enabled: bool) -> datetime | None:
    if value is None:
        return None
    if not dev_enabled:
        raise ConfigError("[dev].now needs [dev].enabled = true (development servers only)")
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    except ValueError:
        moment = None
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ConfigError("[dev].now must be a date-time with its offset, like \"2026-12-30T10:00:00+09:00\"")
    return moment


def render_config(*, port: int = 8443, database_url: str = "sqlite:///server.db", fault: str = "none",
                  dev_enabled: bool = True) -> str:
    """The development configuration devinit writes (paths relative to the file)."""
    fee_lines = "\n".join(f"{t.value} = {k.default_fee}" for t, k in CATALOG.items())
    offered = ", ".join(f'"{t.value}"' for t in CATALOG)
    return f"""# Development configuration of the reference certificate server (written by `kiosk-server devinit`).
# Relative paths are resolved against this file's directory.  Synthetic city, synthetic residents.

[server]
host = "127.0.0.1"
port = {port}
database_url = "{database_url}"

[tls]
certificate = "tls/server.pem"
key = "tls/server-key.pem"
client_ca = "tls/ca.pem"          # the city's device CA: kiosks must present a certificate from it
device_ca_key = "tls/ca-key.pem"  # its key: signs the certificates of kiosks that enrol with a one-time token

[jpki]
ca = "jpki/ca.pem"                # DEVELOPMENT JPKI CA (not the real J-LIS one)
crl = "jpki/crl.pem"

[signing]
document_key = "signing/document-key.pem"
subject_ref_key = "signing/subject-ref.key"

[city]
name = "架空市"
mayor = "架空 春男"
offered = [{offered}]
my_number_allowed = false         # 個人番号 on a 住民票: only where the city allows it (the 住民票コード: never)
max_copies = 5

[fees]                            # window fees (手数料条例), yen per copy
{fee_lines}
kiosk_discount = 0                # yen off every certificate at a kiosk, e.g. 100

# [fees.kiosk]                    # or a kiosk fee per certificate, e.g.
# family_register_all = 350

# [copies]                        # per-certificate copy limits ([city].max_copies otherwise)
# residence_record_copy = 10

[hours]
service = "00:00-24:00"           # a development server answers all day; a city sets e.g. "06:30-23:00"
family_register = ""              # 戸籍 only on weekdays in these hours, e.g. "08:30-17:15" ("" = no limit)
year_end_closure = false          # a city keeps the default (true): closed 12/29-1/3.  Off here so tests and
                                  # demos run on any day of the year
closed_dates = []                 # maintenance days, e.g. ["2026-05-06"]
holidays = []                     # national holidays: no 戸籍 where family_register hours are set
tax_year_from = "06-01"           # the latest 市県民税 year switches on this day

[registry]                        # the synthetic registry, made once in an empty database
seed = 2026
generated_households = 12

[lifetimes]
nonce_seconds = 60
session_seconds = 600
quote_seconds = 600

[dev]
enabled = {"true" if dev_enabled else "false"}
fault = "{fault}"                 # "none" | "wrong_subject_page" | "extra_copy" | "other_kiosk" (kiosk tests only)
""" + APPLICATIONS_DEV_SECTION
