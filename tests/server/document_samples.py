"""Synthetic content for every certificate (made-up people in the made-up city 架空市), and the fields each
rendered certificate must show."""
from __future__ import annotations

from datetime import date

from certs.catalog import CertificateType
from server.render.content import (AddressEntry, Amount, AnnexPerson, FamilyRegister, FamilyRegisterAll,
                                   FamilyRegisterAnnex, FamilyRegisterIndividual, Issuer, PersonEntry,
                                   RegisterEvent, RegisterMember, ResidenceRecord, ResidenceRecordItems,
                                   ResidentTaxRecord, SealImpression, SealRegistration)

ISSUER = Issuer("架空市", "架空 春男", date(2026, 11, 26), "7F3A21C0-1")
DOMICILE = "架空県架空市中央町一丁目2番地"
HEAD = PersonEntry("見本 太郎", date(1980, 4, 1), "男", "世帯主", date(2012, 4, 1), date(2012, 4, 3), DOMICILE,
                   "見本 太郎", None)
SPOUSE = PersonEntry("見本 花子", date(1982, 9, 15), "女", "妻", date(2012, 4, 1), date(2012, 4, 3), DOMICILE,
                     "見本 太郎", None, former_surname="例示")
CHILD = PersonEntry("見本 一郎", date(2016, 5, 5), "男", "子", date(2016, 5, 5), date(2016, 5, 10), DOMICILE,
                    "見本 太郎", None)
LODGER = PersonEntry("スミス ジョン", date(1991, 3, 4), "男", "同居人", date(2021, 7, 1), date(2021, 7, 2), "", "",
                     None, nationality="架空国", residence_status="技術・人文知識・国際業務",
                     residence_period="5年（令和13年6月30日まで）", residence_card_number="AB12345678CD",
                     section_30_45="中長期在留者")
ADDRESS = "架空県架空市中央町一丁目2番3号"

RESIDENCE = ResidenceRecord(ADDRESS, date(2012, 4, 1), "架空県見本町本町4番5号", "見本 太郎",
                            (HEAD, SPOUSE, CHILD, LODGER), True, True, True)
ITEMS = ResidenceRecordItems(ADDRESS, date(2012, 4, 1), "見本 太郎", (HEAD,), False, True, False, purpose="年金手続")
SEAL = SealRegistration("第0012345号", "見本 太郎", date(1980, 4, 1), "男", ADDRESS, SealImpression("見本"))

_BIRTH_HEAD = RegisterEvent("出　生", (("出生日", date(1980, 4, 1)), ("出生地", "架空県架空市"),
                                      ("届出日", date(1980, 4, 8)), ("届出人", "父")))
_MARRIAGE_HEAD = RegisterEvent("婚　姻", (("婚姻日", date(2010, 6, 1)), ("配偶者氏名", "見本 花子"),
                                         ("従前戸籍", "架空県見本町本町4番地　見本 次郎")))
_BIRTH_WIFE = RegisterEvent("出　生", (("出生日", date(1982, 9, 15)), ("出生地", "架空県例示市"),
                                      ("届出日", date(1982, 9, 20)), ("届出人", "母")))
_MARRIAGE_WIFE = RegisterEvent("婚　姻", (("婚姻日", date(2010, 6, 1)), ("配偶者氏名", "見本 太郎"),
                                         ("従前戸籍", "架空県例示市南町1番地　例示 三郎")))
_BIRTH_CHILD = RegisterEvent("出　生", (("出生日", date(2016, 5, 5)), ("出生地", "架空県架空市"),
                                       ("届出日", date(2016, 5, 10)), ("届出人", "父")))
REGISTER = FamilyRegister(
    DOMICILE, "見本 太郎",
    (RegisterEvent("戸籍編製", (("編製日", date(2010, 6, 1)),)),
     RegisterEvent("転　籍", (("転籍日", date(2012, 4, 3)), ("従前本籍", "架空県見本町本町4番地")))),
    (RegisterMember("太郎", date(1980, 4, 1), "見本 次郎", "見本 和子", "長男", (_BIRTH_HEAD, _MARRIAGE_HEAD),
                    sex="男", spouse_role="夫"),
     RegisterMember("花子", date(1982, 9, 15), "例示 三郎", "例示 洋子", "二女", (_BIRTH_WIFE, _MARRIAGE_WIFE),
                    sex="女", spouse_role="妻"),
     RegisterMember("一郎", date(2016, 5, 5), "見本 太郎", "見本 花子", "長男", (_BIRTH_CHILD,), sex="男")))
ANNEX = FamilyRegisterAnnex(DOMICILE, "見本 太郎", (
    AnnexPerson("見本 太郎", date(1980, 4, 1), "男", (AddressEntry("架空県見本町本町4番5号", date(2010, 6, 1)),
                                                  AddressEntry(ADDRESS, date(2012, 4, 1)))),
    AnnexPerson("見本 花子", date(1982, 9, 15), "女", (AddressEntry("架空県見本町本町4番5号", date(2010, 6, 1)),
                                                  AddressEntry(ADDRESS, date(2012, 4, 1)))),
    AnnexPerson("見本 一郎", date(2016, 5, 5), "男", (AddressEntry(ADDRESS, date(2016, 5, 5)),))))
TAX = ResidentTaxRecord(
    2026, ADDRESS, "見本 太郎", date(1980, 4, 1), True,
    (Amount("給与収入", 5_200_000), Amount("給与所得", 3_660_000), Amount("合計所得金額", 3_660_000)),
    (Amount("社会保険料控除", 780_000), Amount("生命保険料控除", 28_000), Amount("配偶者控除", 330_000),
     Amount("扶養控除", 0), Amount("基礎控除", 430_000), Amount("所得控除合計", 1_568_000)),
    (Amount("均等割", 3_000), Amount("所得割", 125_500)), (Amount("均等割", 1_000), Amount("所得割", 83_600)),
    (Amount("控除対象配偶者", 1), Amount("扶養親族", 1)))
TAX_EXEMPT = ResidentTaxRecord(2026, ADDRESS, "見本 一郎", date(2006, 5, 5), False,
                               (Amount("給与収入", 0), Amount("合計所得金額", 0)),
                               (Amount("基礎控除", 430_000), Amount("所得控除合計", 430_000)))

SAMPLES = {
    CertificateType.RESIDENCE_RECORD_COPY: RESIDENCE,
    CertificateType.RESIDENCE_RECORD_ITEMS: ITEMS,
    CertificateType.SEAL_REGISTRATION: SEAL,
    CertificateType.FAMILY_REGISTER_ALL: FamilyRegisterAll(REGISTER),
    CertificateType.FAMILY_REGISTER_INDIVIDUAL: FamilyRegisterIndividual(REGISTER, (2,)),
    CertificateType.FAMILY_REGISTER_ANNEX: ANNEX,
    CertificateType.RESIDENT_TAX: TAX,
}

# What each certificate's text must contain (and, after "!", what it must not).
EXPECTED = {
    CertificateType.RESIDENCE_RECORD_COPY: ("住民票の写し", ADDRESS, "見本 花子（旧氏 例示）", "平成24年4月1日",
                                            "架空県見本町本町4番5号", "国籍・地域", "AB12345678CD",
                                            "世帯全員の住民票の原本と相違ないことを証明する"),
    CertificateType.RESIDENCE_RECORD_ITEMS: ("住民票記載事項証明書", "見本 太郎", "昭和55年4月1日", "年金手続",
                                             "住民票に記載されていることを証明する", "!住民となった年月日"),
    CertificateType.SEAL_REGISTRATION: ("印鑑登録証明書", "第0012345号", "印影", "見本 太郎", "昭和55年4月1日",
                                        "登録されている印影と相違ないことを証明する"),
    CertificateType.FAMILY_REGISTER_ALL: ("戸籍全部事項証明書", DOMICILE, "戸籍事項", "【編製日】平成22年6月1日",
                                          "戸籍に記録されている者", "【名】太郎", "【名】花子", "【名】一郎",
                                          "【配偶者区分】妻", "身分事項", "【婚姻日】平成22年6月1日",
                                          "戸籍に記録されている事項の全部を証明した書面である"),
    CertificateType.FAMILY_REGISTER_INDIVIDUAL: ("戸籍個人事項証明書", DOMICILE, "【名】一郎", "【父】見本 太郎",
                                                 "戸籍中の一部の者について記録されている事項を証明した書面である",
                                                 "!【名】花子"),
    CertificateType.FAMILY_REGISTER_ANNEX: ("戸籍の附票の写し", DOMICILE, "住所の履歴", "【住所】架空県見本町本町4番5号",
                                            "【住所を定めた年月日】平成24年4月1日", "戸籍の附票の原本と相違ない"),
    CertificateType.RESIDENT_TAX: ("令和8年度 市県民税 課税証明書", "令和7年分", "5,200,000円", "所得控除合計",
                                   "1,568,000円", "市民税 所得割", "213,100円", "上記のとおり証明する"),
}
