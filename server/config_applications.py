"""A city's e-applications (電子申請) from server.toml: which are enabled, the 粗大ごみ items and fees, the districts'
collection days, cash or 処理券 (stickers), and any form of the city's own.  Every bad value is a ConfigError.

    [applications]
    enabled = ["bulky_waste", "water_notice"]   # none unless named
    water_days_ahead = 14                       # the 水道 notice's dates: tomorrow and the next days

    [applications.bulky_waste]
    payment = "cash"                 # or "stickers": the resident buys 処理券 at a shop, no money at the kiosk
    sticker_values = [500, 300, 200] # the values of the city's stickers (stickers mode)
    capacity_per_day = 30            # applications one district's collection day takes
    days_ahead_min = 3               # the first date offered is this many days from today
    weeks_ahead = 4                  # dates offered up to this many weeks ahead
    put_out_ja = "収集日の朝8時30分までに…"   # printed on the receipt: where to put the items
    items = [{code = "chair", label_ja = "いす", fee = 300}, …]
    [applications.bulky_waste.districts.中央]
    addresses = ["架空県架空市中央町", …]  # the registry's address starts with one of these
    weekdays = ["tue"]

    [[applications.forms]]           # a form of the city's own, in the shape of certs.services.BUILT_IN_FORMS
"""
from __future__ import annotations

from dataclasses import dataclass, field

from certs.services import BUILT_IN_FORMS, Choice, Form, Payment, stickers_for
from server.config_city import ConfigError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True)
class District:
    name: str
    addresses: tuple[str, ...]
    weekdays: tuple[int, ...]  # 0 = Monday

    def holds(self, address: str) -> bool:
        return any(address.startswith(prefix) for prefix in self.addresses)


@dataclass(frozen=True)
class BulkyWaste:
    payment: Payment = Payment.CASH
    sticker_values: tuple[int, ...] = (500, 300, 200)
    capacity_per_day: int = 30
    days_ahead_min: int = 3
    weeks_ahead: int = 4
    put_out_ja: str = "収集日の朝8時30分までに、ご自宅前の道路に面した場所（集合住宅は指定の場所）に出してください。"
    items: tuple[Choice, ...] = ()
    districts: tuple[District, ...] = ()

    def district_of(self, address: str) -> District | None:
        return next((d for d in self.districts if d.holds(address)), None)


@dataclass(frozen=True)
class ApplicationSettings:
    enabled: tuple[str, ...] = ()
    forms: dict[str, Form] = field(default_factory=dict)  # every form known (built in and the city's own)
    bulky_waste: BulkyWaste = field(default_factory=BulkyWaste)
    water_days_ahead: int = 14

    def form(self, service: str) -> Form | None:
        return self.forms.get(service) if service in self.enabled else None


def _whole(value: object, key: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key} must be an integer >= {minimum}")
    return value


def _bulky(table: dict) -> BulkyWaste:
    where = "[applications.bulky_waste]"
    try:
        payment = Payment(table.get("payment", "cash"))
    except ValueError:
        raise ConfigError(f"{where}.payment must be \"cash\" or \"stickers\"") from None
    if payment is Payment.NONE:
        raise ConfigError(f"{where}.payment must be \"cash\" or \"stickers\"")
    values = tuple(_whole(v, f"{where}.sticker_values", 1) for v in table.get("sticker_values", [500, 300, 200]))
    items = []
    for raw in table.get("items", []):
        if not isinstance(raw, dict) or not isinstance(raw.get("code"), str) or not raw.get("label_ja"):
            raise ConfigError(f"{where}.items: each item has a code, a label_ja and a fee")
        items.append(Choice(raw["code"], str(raw["label_ja"]), _whole(raw.get("fee"), f"{where}.items.fee", 1)))
    if payment is Payment.STICKERS:
        try:
            stickers_for([c.fee for c in items], values)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None
    districts = []
    for name, raw in (table.get("districts") or {}).items():
        days = raw.get("weekdays", []) if isinstance(raw, dict) else None
        if not isinstance(days, list) or any(d not in WEEKDAYS for d in days):
            raise ConfigError(f"{where}.districts.{name}.weekdays must be a list of {', '.join(WEEKDAYS)}")
        addresses = raw.get("addresses", [])
        if not isinstance(addresses, list) or not all(isinstance(a, str) for a in addresses):
            raise ConfigError(f"{where}.districts.{name}.addresses must be a list of address beginnings")
        districts.append(District(str(name), tuple(addresses), tuple(WEEKDAYS.index(d) for d in days)))
    return BulkyWaste(payment, values, _whole(table.get("capacity_per_day", 30), f"{where}.capacity_per_day", 1),
                      _whole(table.get("days_ahead_min", 3), f"{where}.days_ahead_min", 1),
                      _whole(table.get("weeks_ahead", 4), f"{where}.weeks_ahead", 1),
                      str(table.get("put_out_ja", BulkyWaste.put_out_ja)), tuple(items), tuple(districts))


def parse_applications(table: dict) -> ApplicationSettings:
    if not isinstance(table, dict):
        raise ConfigError("[applications] must be a table")
    forms = {name: Form.from_dict(data) for name, data in BUILT_IN_FORMS.items()}
    for raw in table.get("forms", []):
        try:
            form = Form.from_dict(raw)
        except ValueError as exc:
            raise ConfigError(f"[[applications.forms]]: {exc}") from None
        forms[form.service] = form
    enabled = table.get("enabled", [])
    if not isinstance(enabled, list) or any(s not in forms for s in enabled):
        raise ConfigError(f"[applications].enabled must name forms among {', '.join(sorted(forms))}")
    return ApplicationSettings(tuple(enabled), forms, _bulky(table.get("bulky_waste", {})),
                               _whole(table.get("water_days_ahead", 14), "[applications].water_days_ahead", 1))


DEV_SECTION = """
[applications]                    # e-applications (電子申請) at the kiosk; none unless enabled here
enabled = ["bulky_waste", "water_notice"]
water_days_ahead = 14

[applications.bulky_waste]
payment = "cash"                  # or "stickers": the resident buys 処理券 at a shop, no money at the kiosk
sticker_values = [500, 300, 200]
capacity_per_day = 30
days_ahead_min = 3
weeks_ahead = 4
items = [{code = "chair", label_ja = "いす", fee = 300},
         {code = "bicycle", label_ja = "自転車", fee = 500},
         {code = "mattress", label_ja = "マットレス（シングル）", fee = 800},
         {code = "desk", label_ja = "机", fee = 500},
         {code = "futon", label_ja = "布団", fee = 200}]

[applications.bulky_waste.districts.north]
addresses = ["架空県架空市北町", "架空県架空市緑町", "架空県架空市旭町"]
weekdays = ["tue", "fri"]

[applications.bulky_waste.districts.south]
addresses = ["架空県架空市"]      # the rest of the city
weekdays = ["mon", "thu"]
"""
"""The section devinit writes into a development server.toml."""
