"""The synthetic registry of the fictitious city 架空市: who lives where, their 戸籍, seals, taxes — all made up.

:func:`synthetic_registry` is a pure function of a seed: the same seed gives the same registry, byte for byte.
It holds a hand-made core (the people the simulated cards belong to, one per special case the kiosk must handle)
and, after it, households generated from the seed (a realistic spread for lists and load tests).  Names use
clearly fictitious family names (試験, 見本, 仮名, 例示 …) and addresses in 架空県.  Nothing here touches the
database: :func:`server.registry.seed` writes it.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

CITY = "架空市"
CITY_ADDRESS = "架空県架空市"
LAST_TAX_YEAR = 2040  # tax records are made for every fiscal year up to this one


@dataclass(frozen=True)
class HouseholdSeed:
    household_id: str
    address: str
    address_set_on: date
    previous_address: str


@dataclass(frozen=True)
class ResidentSeed:
    resident_id: str
    household_id: str
    position: int
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    relationship: str  # 続柄 in the household
    became_resident_on: date
    notified_on: date
    register_id: str | None  # None: no 戸籍 (a foreign resident)
    flags: tuple[str, ...] = ()  # support_measures, moved_out, deceased


@dataclass(frozen=True)
class EntrySeed:
    position: int
    resident_id: str | None
    family_name: str
    given_name: str
    birth_date: date
    sex: str
    father: str
    mother: str
    relation: str
    event: str
    event_on: date
    removed: bool = False


@dataclass(frozen=True)
class RegisterSeed:
    register_id: str
    domicile: str
    head_name: str
    keeper: str
    made_on: date
    made_reason: str
    entries: tuple[EntrySeed, ...]

    @property
    def held_here(self) -> bool:
        return self.keeper == CITY


@dataclass(frozen=True)
class SealSeed:
    registration_number: str
    resident_id: str
    registered_on: date
    impression: str
    abolished_on: date | None = None


@dataclass(frozen=True)
class TaxProfile:
    """How a resident's tax records are made: one per fiscal year they were registered here on 1 January."""
    resident_id: str
    income_kind: str
    income: int
    dependants: int = 0


@dataclass(frozen=True)
class ForeignSeed:
    resident_id: str
    nationality: str
    status: str
    period_until: date
    card_number: str


@dataclass(frozen=True)
class DomicileRegistrationSeed:
    resident_id: str
    register_id: str
    applied_on: date
    effective_on: date


@dataclass
class RegistryData:
    households: list[HouseholdSeed] = field(default_factory=list)
    residents: list[ResidentSeed] = field(default_factory=list)
    registers: list[RegisterSeed] = field(default_factory=list)
    seals: list[SealSeed] = field(default_factory=list)
    taxes: list[TaxProfile] = field(default_factory=list)
    foreigners: list[ForeignSeed] = field(default_factory=list)
    domicile_registrations: list[DomicileRegistrationSeed] = field(default_factory=list)


def _e(pos, rid, family, given, birth, sex, father, mother, relation, event, event_on, removed=False) -> EntrySeed:
    return EntrySeed(pos, rid, family, given, birth, sex, father, mother, relation, event, event_on, removed)


_H = HouseholdSeed
_R = ResidentSeed
_A = CITY_ADDRESS

CORE_HOUSEHOLDS = (
    _H("H0001", f"{_A}中央町一丁目2番3号", date(2012, 4, 1), "架空県見本町本町4番5号"),
    _H("H0002", f"{_A}北町三丁目10番1号 見本ハイツ201号室", date(2018, 10, 15), "架空県例示市南町1番2号"),
    _H("H0003", f"{_A}南町2番8号", date(2005, 6, 1), "架空県架空市東町7番7号"),
    _H("H0004", f"{_A}東町5番12号", date(2020, 1, 20), "架空県仮想村字山田100番地"),
    _H("H0005", f"{_A}西町1番1号", date(2015, 3, 3), "架空県見本町本町9番9号"),
    _H("H0006", f"{_A}港町4番1号 例示コーポ102号室", date(2023, 9, 1), "例示国架空州見本通り1"),
    _H("H0007", f"{_A}緑町8番3号", date(2010, 8, 8), "架空県例示市北町3番3号"),
    _H("H0008", f"{_A}桜町6番6号", date(1999, 11, 1), "架空県架空市中央町五丁目1番1号"),
    _H("H0009", f"{_A}旭町2番15号", date(2016, 2, 1), "架空県仮想村字川上20番地"),
)
CORE_RESIDENTS = (
    _R("R0001", "H0001", 1, "試験", "太郎", date(1980, 4, 1), "男", "世帯主", date(2012, 4, 1), date(2012, 4, 3), "F0001"),
    _R("R0002", "H0001", 2, "試験", "花子", date(1982, 9, 15), "女", "妻", date(2012, 4, 1), date(2012, 4, 3), "F0001"),
    _R("R0003", "H0001", 3, "試験", "一郎", date(2016, 5, 5), "男", "子", date(2016, 5, 5), date(2016, 5, 10), "F0001"),
    _R("R0004", "H0002", 1, "見本", "次郎", date(1975, 11, 20), "男", "世帯主", date(2018, 10, 15), date(2018, 10, 16),
       "F0002"),
    _R("R0005", "H0002", 2, "見本", "良子", date(1977, 2, 28), "女", "妻", date(2018, 10, 15), date(2018, 10, 16),
       "F0002"),
    _R("R0006", "H0003", 1, "仮名", "三郎", date(1960, 7, 7), "男", "世帯主", date(2005, 6, 1), date(2005, 6, 2), "F0003"),
    _R("R0007", "H0004", 1, "例示", "四郎", date(1990, 12, 31), "男", "世帯主", date(2020, 1, 20), date(2020, 1, 21),
       "F0004"),
    _R("R0008", "H0005", 1, "見本", "五月", date(1985, 5, 1), "女", "世帯主", date(2015, 3, 3), date(2015, 3, 4), "F0005",
       ("support_measures",)),
    _R("R0009", "H0006", 1, "EXAMPLE", "ALEX", date(1994, 3, 12), "女", "世帯主", date(2023, 9, 1), date(2023, 9, 4),
       None),
    _R("R0010", "H0007", 1, "仮設", "六郎", date(1970, 6, 6), "男", "世帯主", date(2010, 8, 8), date(2010, 8, 9), "F0007",
       ("moved_out",)),
    _R("R0011", "H0007", 2, "仮設", "七海", date(1972, 7, 7), "女", "妻", date(2010, 8, 8), date(2010, 8, 9), "F0007"),
    _R("R0012", "H0008", 1, "模擬", "八郎", date(1940, 8, 8), "男", "世帯主", date(1999, 11, 1), date(1999, 11, 2), "F0008",
       ("deceased",)),
    _R("R0013", "H0009", 1, "標本", "九子", date(1968, 9, 9), "女", "世帯主", date(2016, 2, 1), date(2016, 2, 2), "F0009"),
    _R("R0014", "H0009", 2, "想定", "十和", date(1999, 10, 10), "男", "同居人", date(2024, 4, 1), date(2024, 4, 2),
       "F0010"),
)
CORE_REGISTERS = (
    RegisterSeed("F0001", "架空県架空市中央町一丁目2番地", "試験 太郎", CITY, date(2010, 6, 1), "婚姻", (
        _e(1, "R0001", "試験", "太郎", date(1980, 4, 1), "男", "試験 一夫", "試験 和子", "長男", "婚姻",
           date(2010, 6, 1)),
        _e(2, "R0002", "試験", "花子", date(1982, 9, 15), "女", "見本 二郎", "見本 月子", "長女", "婚姻",
           date(2010, 6, 1)),
        _e(3, "R0003", "試験", "一郎", date(2016, 5, 5), "男", "試験 太郎", "試験 花子", "長男", "出生",
           date(2016, 5, 5)))),
    RegisterSeed("F0002", "架空県例示市南町1番地", "見本 次郎", "例示市", date(2001, 4, 1), "婚姻", (
        _e(1, "R0004", "見本", "次郎", date(1975, 11, 20), "男", "見本 一", "見本 春", "二男", "婚姻",
           date(2001, 4, 1)),
        _e(2, "R0005", "見本", "良子", date(1977, 2, 28), "女", "仮名 太一", "仮名 夏", "長女", "婚姻",
           date(2001, 4, 1)))),
    RegisterSeed("F0003", "架空県架空市南町2番地", "仮名 三郎", CITY, date(1988, 10, 10), "婚姻", (
        _e(1, "R0006", "仮名", "三郎", date(1960, 7, 7), "男", "仮名 二郎", "仮名 秋", "三男", "婚姻",
           date(1988, 10, 10)),
        _e(2, None, "仮名", "冬子", date(1962, 1, 1), "女", "例示 一", "例示 雪", "長女", "死亡",
           date(2019, 2, 2), removed=True))),
    RegisterSeed("F0004", "架空県仮想村字山田100番地", "例示 四郎", "仮想村", date(2015, 1, 5), "分籍", (
        _e(1, "R0007", "例示", "四郎", date(1990, 12, 31), "男", "例示 三郎", "例示 花", "四男", "分籍",
           date(2015, 1, 5)),)),
    RegisterSeed("F0005", "架空県見本町本町9番地", "見本 五月", "見本町", date(2007, 5, 1), "分籍", (
        _e(1, "R0008", "見本", "五月", date(1985, 5, 1), "女", "見本 四郎", "見本 桜", "長女", "分籍",
           date(2007, 5, 1)),)),
    RegisterSeed("F0007", "架空県架空市緑町8番地", "仮設 六郎", CITY, date(1996, 3, 3), "婚姻", (
        _e(1, "R0010", "仮設", "六郎", date(1970, 6, 6), "男", "仮設 五郎", "仮設 菊", "長男", "婚姻",
           date(1996, 3, 3)),
        _e(2, "R0011", "仮設", "七海", date(1972, 7, 7), "女", "想定 一", "想定 梅", "長女", "婚姻",
           date(1996, 3, 3)))),
    RegisterSeed("F0008", "架空県架空市桜町6番地", "模擬 八郎", CITY, date(1965, 4, 4), "婚姻", (
        _e(1, "R0012", "模擬", "八郎", date(1940, 8, 8), "男", "模擬 七郎", "模擬 松", "長男", "死亡",
           date(2026, 1, 15), removed=True),)),
    RegisterSeed("F0009", "架空県架空市旭町2番地", "標本 九子", CITY, date(1990, 9, 9), "分籍", (
        _e(1, "R0013", "標本", "九子", date(1968, 9, 9), "女", "標本 八郎", "標本 竹", "長女", "分籍",
           date(1990, 9, 9)),)),
    RegisterSeed("F0010", "架空県仮想村字川上20番地", "想定 十和", "仮想村", date(2020, 10, 10), "分籍", (
        _e(1, "R0014", "想定", "十和", date(1999, 10, 10), "男", "想定 九郎", "想定 蘭", "長男", "分籍",
           date(2020, 10, 10)),)),
)
CORE_SEALS = (
    SealSeed("S000101", "R0001", date(2012, 4, 10), "試験"),
    SealSeed("S000104", "R0004", date(2018, 11, 1), "見本"),
    SealSeed("S000106", "R0006", date(2005, 7, 1), "仮名"),
    SealSeed("S000110", "R0010", date(2010, 9, 1), "仮設"),
    SealSeed("S000112", "R0012", date(2000, 1, 5), "模擬"),
    SealSeed("S000113", "R0013", date(2016, 3, 1), "標本", abolished_on=date(2025, 7, 1)),  # 廃印
    SealSeed("S000011", "R0011", date(2010, 9, 1), "七海"),
)
CORE_TAXES = (
    TaxProfile("R0001", "給与", 5_200_000, dependants=2),
    TaxProfile("R0002", "給与", 900_000),  # 非課税
    TaxProfile("R0004", "給与", 4_100_000, dependants=1),
    TaxProfile("R0005", "給与", 1_300_000),
    TaxProfile("R0006", "年金", 2_400_000),
    TaxProfile("R0007", "給与", 3_000_000),
    TaxProfile("R0008", "給与", 3_600_000),
    TaxProfile("R0010", "営業", 4_800_000, dependants=1),
    TaxProfile("R0011", "給与", 1_000_000),
    TaxProfile("R0012", "年金", 1_500_000),
    TaxProfile("R0013", "給与", 3_900_000),
)
CORE_FOREIGNERS = (ForeignSeed("R0009", "例示国", "技術・人文知識・国際業務", date(2028, 9, 1), "XX00000009XX"),)
CORE_DOMICILE_REGISTRATIONS = (DomicileRegistrationSeed("R0004", "F0002", date(2019, 1, 7), date(2019, 1, 9)),)

_FAMILIES = ("試験", "見本", "仮名", "例示", "架空", "模擬", "仮設", "想定", "標本", "雛形", "試作", "仮置")
_MEN = ("太郎", "一郎", "二郎", "健", "翔", "誠", "大樹", "悠", "学", "勇")
_WOMEN = ("花子", "桜", "陽子", "美咲", "結衣", "恵", "葵", "真理", "由美", "明子")
_TOWNS = ("中央町", "北町", "南町", "東町", "西町", "港町", "緑町", "桜町", "旭町", "本町")
_ELSEWHERE = (("例示市", "架空県例示市"), ("仮想村", "架空県仮想村"), ("見本町", "架空県見本町"))


def _date(rng: random.Random, first_year: int, last_year: int) -> date:
    return date(rng.randint(first_year, last_year), rng.randint(1, 12), rng.randint(1, 28))


def _generate(data: RegistryData, rng: random.Random, count: int) -> None:
    """Ordinary households: a head, sometimes a spouse, sometimes children; 本籍 here or elsewhere."""
    for n in range(1, count + 1):
        hid, town, family = f"G{n:04d}", rng.choice(_TOWNS), rng.choice(_FAMILIES)
        block, lot = rng.randint(1, 9), rng.randint(1, 30)
        set_on = _date(rng, 1995, 2024)
        data.households.append(HouseholdSeed(hid, f"{_A}{town}{block}番{lot}号", set_on,
                                             f"架空県例示市{rng.choice(_TOWNS)}{rng.randint(1, 9)}番{lot}号"))
        rid_base, fid = 1000 + 10 * n, f"FG{n:03d}"
        head_male = rng.random() < 0.6
        head_birth = _date(rng, 1945, 1995)
        people = [(family, rng.choice(_MEN if head_male else _WOMEN), head_birth, "男" if head_male else "女",
                   "世帯主", "長男" if head_male else "長女")]
        if rng.random() < 0.6:
            people.append((family, rng.choice(_WOMEN if head_male else _MEN), _date(rng, 1945, 1995),
                           "女" if head_male else "男", "妻" if head_male else "夫", "長女" if head_male else "長男"))
        for child in range(rng.choice((0, 0, 1, 2))):
            sex = rng.choice("男女")
            people.append((family, rng.choice(_MEN if sex == "男" else _WOMEN),
                           _date(rng, max(head_birth.year + 22, 1995), 2024), sex, "子",
                           ("長男", "二男")[child] if sex == "男" else ("長女", "二女")[child]))
        where = rng.random()
        keeper, prefix = (CITY, _A) if where < 0.7 else rng.choice(_ELSEWHERE)
        entries = []
        for pos, (fam, given, birth, sex, rel, reg_rel) in enumerate(people, start=1):
            rid = f"R{rid_base + pos:04d}"
            became = max(set_on, birth)
            data.residents.append(ResidentSeed(rid, hid, pos, fam, given, birth, sex, rel, became, became, fid))
            entries.append(_e(pos, rid, fam, given, birth, sex, f"{fam} 一", f"{fam} 春", reg_rel,
                              "出生" if rel == "子" else "婚姻", birth if rel == "子" else set_on))
            adult = birth.year <= 2005
            if adult and rng.random() < 0.6:
                data.seals.append(SealSeed(f"S{rid_base + pos:06d}", rid, became, fam))
            if adult and rng.random() < 0.8:
                data.taxes.append(TaxProfile(rid, rng.choice(("給与", "年金", "営業")),
                                             rng.randrange(600_000, 9_000_000, 10_000), rng.choice((0, 0, 1, 2))))
        data.registers.append(RegisterSeed(fid, f"{prefix}{town}{block}番地", f"{people[0][0]} {people[0][1]}",
                                           keeper, set_on, "婚姻" if len(people) > 1 else "分籍", tuple(entries)))
        if keeper != CITY and where < 0.85:
            data.domicile_registrations.append(DomicileRegistrationSeed(f"R{rid_base + 1:04d}", fid,
                                                                        date(2024, 3, 1), date(2024, 3, 4)))


def synthetic_registry(seed: int = 2026, generated_households: int = 12) -> RegistryData:
    """The whole registry: the hand-made core, then ``generated_households`` households made from ``seed``."""
    data = RegistryData(list(CORE_HOUSEHOLDS), list(CORE_RESIDENTS), list(CORE_REGISTERS), list(CORE_SEALS),
                        list(CORE_TAXES), list(CORE_FOREIGNERS), list(CORE_DOMICILE_REGISTRATIONS))
    _generate(data, random.Random(seed), generated_households)
    return data


def tax_year_values(profile: TaxProfile, fiscal_year: int) -> dict:
    """A simplified 市県民税 assessment, deterministic per (resident, year): 給与所得控除 ~30 %, basic and
    dependants' deductions, 非課税 under 450,000 yen (+350,000 per dependant), 所得割 6 % + 4 %, 均等割
    3,500 + 1,500 yen."""
    drift = 1 + ((fiscal_year * 7 + sum(map(ord, profile.resident_id))) % 9 - 4) / 100  # ±4 % year to year
    income = int(profile.income * drift) // 1000 * 1000
    total = max(0, int(income * 0.7) - 180_000) if profile.income_kind != "営業" else int(income * 0.6)
    deductions = 430_000 + 380_000 * profile.dependants + int(income * 0.15) // 1000 * 1000
    taxable = total > 450_000 + 350_000 * profile.dependants
    base = max(0, total - deductions) // 1000 * 1000
    municipal = (3_500 + base * 6 // 100) // 100 * 100 if taxable else 0
    prefectural = (1_500 + base * 4 // 100) // 100 * 100 if taxable else 0
    return {"income_kind": profile.income_kind, "income": income, "total_income": total, "deductions": deductions,
            "dependants": profile.dependants, "taxable": taxable, "municipal_tax": municipal,
            "prefectural_tax": prefectural}
