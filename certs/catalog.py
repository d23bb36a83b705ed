"""The seven certificates a kiosk can issue, their options and their default fees.

Official Japanese names live here and in the screen strings; identifiers are English.  Fees here are the usual
window fees (domain-facts §2.5); a city's configuration overrides them and may set a kiosk discount.
"""
from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

_MEMBER_LIST = re.compile(r"^$|^[0-9a-z]{8,64}(,[0-9a-z]{8,64}){0,19}$")

#: Options a kiosk never offers, whatever a request or a configuration says (domain-facts §0).
FORBIDDEN_OPTIONS = {"resident_code": "the 住民票コード is never printed at a kiosk"}


class CertificateType(enum.Enum):
    RESIDENCE_RECORD_COPY = "residence_record_copy"  # 住民票の写し
    RESIDENCE_RECORD_ITEMS = "residence_record_items"  # 住民票記載事項証明書
    SEAL_REGISTRATION = "seal_registration"  # 印鑑登録証明書
    FAMILY_REGISTER_ALL = "family_register_all"  # 戸籍全部事項証明書
    FAMILY_REGISTER_INDIVIDUAL = "family_register_individual"  # 戸籍個人事項証明書
    FAMILY_REGISTER_ANNEX = "family_register_annex"  # 戸籍の附票の写し
    RESIDENT_TAX = "resident_tax"  # 市県民税 課税・非課税証明書 (latest year)

    @classmethod
    def parse(cls, code: str) -> "CertificateType":
        try:
            return cls(code)
        except ValueError:
            raise ValueError(f"unknown certificate type {code!r}") from None


@dataclass(frozen=True)
class OptionSpec:
    """One choice the resident makes for a certificate.  ``choices`` is None for a yes/no option."""

    name: str
    label_ja: str
    default: str | bool
    choices: tuple[str, ...] | None = None
    needs_city_permission: bool = False  # offered only where the city's configuration allows it
    free_text: bool = False  # a short text of ids (e.g. the chosen household members), not a yes/no

    def validate(self, value: object) -> str | bool:
        if self.free_text:
            if not isinstance(value, str) or not _MEMBER_LIST.fullmatch(value):
                raise ValueError(f"option {self.name} takes a comma-separated list of member references")
            return value
        if self.choices is None:
            if not isinstance(value, bool):
                raise ValueError(f"option {self.name} takes true or false")
            return value
        if value not in self.choices:
            raise ValueError(f"option {self.name} takes one of {', '.join(self.choices)}")
        return value  # type: ignore[return-value]


@dataclass(frozen=True)
class CertificateKind:
    type: CertificateType
    name_ja: str
    name_en: str
    default_fee: int
    family_register: bool = False  # 戸籍 certificates: may be limited to office hours
    options: tuple[OptionSpec, ...] = field(default_factory=tuple)

    def option(self, name: str) -> OptionSpec:
        for spec in self.options:
            if spec.name == name:
                return spec
        raise ValueError(f"{self.type.value} has no option {name!r}")

    def normalise_options(self, given: dict[str, object], *, my_number_allowed: bool = False) -> dict[str, object]:
        """Fill defaults, refuse unknown or forbidden options.  Raises ValueError with a clear message."""
        forbidden = sorted(set(given) & set(FORBIDDEN_OPTIONS))
        if forbidden:
            raise ValueError(f"option {forbidden[0]} is never offered: {FORBIDDEN_OPTIONS[forbidden[0]]}")
        unknown = set(given) - {o.name for o in self.options}
        if unknown:
            raise ValueError(f"{self.type.value} has no option {', '.join(sorted(unknown))}")
        result: dict[str, object] = {}
        for spec in self.options:
            value = spec.validate(given[spec.name]) if spec.name in given else spec.default
            if spec.needs_city_permission and value and not my_number_allowed:
                raise ValueError(f"option {spec.name} is not offered by this city")
            result[spec.name] = value
        if "members" in result:
            chosen = bool(result["members"])
            if result.get("scope") == "selected" and not chosen:
                raise ValueError("option scope=selected needs members (the chosen household members)")
            if result.get("scope") != "selected" and chosen:
                raise ValueError("option members is only for scope=selected")
        return result

    @property
    def option_names(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.options)


_HOUSEHOLD = OptionSpec("scope", "本人のみ／世帯全員／選択した人", "self", ("self", "household", "selected"))
_MEMBERS = OptionSpec("members", "選択した人", "", free_text=True)  # member_ref values from the menu, comma-separated
_HEAD = OptionSpec("household_head", "世帯主・続柄", False)
_DOMICILE = OptionSpec("domicile", "本籍・筆頭者", False)  # Japanese nationals only
_FOREIGN = OptionSpec("foreign_items", "国籍・地域、在留資格等", False)  # foreign residents only
_MY_NUMBER = OptionSpec("my_number", "個人番号", False, needs_city_permission=True)

CATALOG: dict[CertificateType, CertificateKind] = {k.type: k for k in (
    CertificateKind(CertificateType.RESIDENCE_RECORD_COPY, "住民票の写し", "Certificate of residence (copy)", 300,
                    options=(_HOUSEHOLD, _MEMBERS, _HEAD, _DOMICILE, _FOREIGN, _MY_NUMBER)),
    CertificateKind(CertificateType.RESIDENCE_RECORD_ITEMS, "住民票記載事項証明書",
                    "Certificate of items in the residence record", 300,
                    options=(_HOUSEHOLD, _MEMBERS, _HEAD, _DOMICILE, _FOREIGN)),
    CertificateKind(CertificateType.SEAL_REGISTRATION, "印鑑登録証明書", "Certificate of seal registration", 300),
    CertificateKind(CertificateType.FAMILY_REGISTER_ALL, "戸籍全部事項証明書",
                    "Family register (all members)", 450, family_register=True),
    CertificateKind(CertificateType.FAMILY_REGISTER_INDIVIDUAL, "戸籍個人事項証明書",
                    "Family register (individual)", 450, family_register=True),
    CertificateKind(CertificateType.FAMILY_REGISTER_ANNEX, "戸籍の附票の写し",
                    "Family register annex (address history)", 300, family_register=True),
    CertificateKind(CertificateType.RESIDENT_TAX, "市県民税 課税・非課税証明書",
                    "Municipal and prefectural resident tax certificate", 300),
)}


class IneligibleReason(enum.Enum):
    """Why a resident cannot get a certificate at the kiosk ("please go to the counter: …")."""

    SUPPORT_MEASURES = "support_measures"  # 住民基本台帳事務における支援措置
    UNDER_15 = "under_15"
    MOVED_OUT = "moved_out"  # 転出者 / 転出予定者 (and their household)
    DECEASED = "deceased"
    SEAL_NOT_REGISTERED = "seal_not_registered"
    SEAL_ABOLISHED = "seal_abolished"
    NO_TAX_RECORD = "no_tax_record"
    DOMICILE_ELSEWHERE = "domicile_elsewhere"  # 本籍地 ≠ 住所地 without the 利用登録
    NO_FAMILY_REGISTER = "no_family_register"  # e.g. a foreign resident
    NOT_IN_HOUSEHOLD = "not_in_household"
    OUT_OF_HOURS = "out_of_hours"  # outside the service hours, or 戸籍 outside weekday office hours
    NOT_OFFERED = "not_offered"  # the city does not offer this certificate at kiosks
    CLOSED = "closed"  # a closed day: 12/29–1/3, or a maintenance day the city configured
