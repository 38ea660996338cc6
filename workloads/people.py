"""Shop customers: names, e-mail addresses, countries and languages.

Shared by the text kinds that show people (:mod:`workloads.csv_export`,
:mod:`workloads.ndjson`). :data:`LOCALES` holds first and last names from 14
locales (é, ü, ø, ł, 中文, 日本語, 한국어, Cyrillic, ...) with ASCII spellings
for e-mail addresses, and :func:`random_person` draws a customer the way a
shop database holds them, messy names included.
"""

from __future__ import annotations

from dataclasses import dataclass

from streambench.workloads.textgen import PoolRandom


@dataclass(frozen=True)
class Locale:
    first_names: tuple[tuple[str, str], ...]  # (as written, ASCII for emails)
    last_names: tuple[tuple[str, str], ...]
    countries: tuple[tuple[str, str, int], ...]  # (ISO code, currency, weight)
    domains: tuple[str, ...]
    family_first: bool = False
    name_separator: str = " "
    weight: int = 1


def _latin(names: str) -> tuple[tuple[str, str], ...]:
    table = str.maketrans(
        {
            "ä": "ae",
            "ö": "oe",
            "ü": "ue",
            "ß": "ss",
            "Ä": "Ae",
            "Ö": "Oe",
            "Ü": "Ue",
            "é": "e",
            "è": "e",
            "ê": "e",
            "ë": "e",
            "É": "E",
            "à": "a",
            "â": "a",
            "ç": "c",
            "î": "i",
            "ï": "i",
            "ô": "o",
            "û": "u",
            "ù": "u",
            "ñ": "n",
            "á": "a",
            "í": "i",
            "ó": "o",
            "ú": "u",
            "Á": "A",
            "Í": "I",
            "Ñ": "N",
            "ø": "o",
            "Ø": "O",
            "å": "a",
            "Å": "A",
            "æ": "ae",
            "Æ": "Ae",
            "ł": "l",
            "Ł": "L",
            "ń": "n",
            "ś": "s",
            "ź": "z",
            "ż": "z",
            "ą": "a",
            "ę": "e",
            "ć": "c",
            "ã": "a",
            "õ": "o",
            "Ç": "C",
            "ğ": "g",
            "ş": "s",
            "Ş": "S",
            "ı": "i",
            "İ": "I",
            "'": "",
            "Ô": "O",
        }
    )
    return tuple((name, name.translate(table)) for name in names.split())


def _romanised(pairs: str) -> tuple[tuple[str, str], ...]:
    """ "王=Wang 李=Li" -> (("王", "Wang"), ("李", "Li"))."""
    return tuple((p.split("=")[0], p.split("=")[1]) for p in pairs.split())


LOCALES: tuple[Locale, ...] = (
    Locale(
        _latin(
            "James Mary John Patricia Robert Jennifer Michael Linda William Elizabeth "
            "David Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen "
            "Christopher Nancy Daniel Lisa Matthew Betty Anthony Margaret Mark Sandra "
            "Emily Olivia Liam Noah Emma Ava Sophia Isabella Ethan Mason Logan Lucas "
            "Harper Evelyn Abigail Ella Jack Oliver Amelia Charlotte Grace Chloe Zoe"
        ),
        _latin(
            "Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez "
            "Wilson Anderson Taylor Moore Jackson Martin Lee Thompson White Harris "
            "Clark Lewis Robinson Walker Young Allen King Wright Scott Hill Green "
            "Adams Baker Nelson Carter Mitchell Perez Roberts Turner Phillips Campbell "
            "Parker Evans Edwards Collins Stewart O'Brien O'Connor McDonald Nguyen Patel "
            "Kim Murphy Cook Rogers Morgan Cooper Peterson Reed Bailey Kelly Howard"
        ),
        (
            ("US", "USD", 40),
            ("GB", "GBP", 10),
            ("CA", "CAD", 4),
            ("AU", "AUD", 3),
            ("IE", "EUR", 1),
            ("NZ", "NZD", 1),
        ),
        (
            "gmail.com",
            "gmail.com",
            "yahoo.com",
            "outlook.com",
            "hotmail.com",
            "icloud.com",
            "aol.com",
            "proton.me",
            "comcast.net",
            "acme-corp.com",
        ),
        weight=45,
    ),
    Locale(
        _latin(
            "Jürgen Günter Björn Jörg Sören Käthe Anneliese Lukas Lena Hannah "
            "Maximilian Felix Jonas Leonie Mia Sophie Uwe Dieter Ursula Renate Jürgen "
            "Katharina Stefan Andreas Sabine Monika Petra Thomas Matthias Tobias Jörn"
        ),
        _latin(
            "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
            "Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann "
            "Braun Krüger Hofmann Hartmann Lange Schmitt Werner Krause Meier Lehmann "
            "Köhler Groß Weiß Jäger Böhm Vogt Günther Müller-Lüdenscheidt Strauß"
        ),
        (("DE", "EUR", 12), ("AT", "EUR", 2), ("CH", "CHF", 2)),
        ("web.de", "gmx.de", "gmx.net", "t-online.de", "gmail.com", "posteo.de"),
        weight=14,
    ),
    Locale(
        _latin(
            "Élodie François Hélène Amélie Cécile Léa Chloé Zoé Jérôme Stéphane Benoît "
            "Gaëlle Noël Loïc Anaïs Inès Thérèse Raphaël Mathéo Célia Camille Hugo "
            "Louis Manon Théo Éric Aurélie Jean-Baptiste Marie-Hélène Frédéric"
        ),
        _latin(
            "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau "
            "Simon Laurent Lefèvre Michel Garçon Lefebvre Mercier Dupont Lambert Bonnet "
            "François Girard Fontaine Rousseau Chevalier Gauthier Bélanger Brûlé Lemaître"
        ),
        (("FR", "EUR", 8), ("BE", "EUR", 1), ("CA", "CAD", 1)),
        ("orange.fr", "free.fr", "laposte.net", "gmail.com", "sfr.fr", "wanadoo.fr"),
        weight=9,
    ),
    Locale(
        _latin(
            "José María Núria Ángel Sofía Lucía Martín Mateo Álvaro Raúl Inés Begoña "
            "Jesús Íñigo Alejandro Carmen Javier Pilar Andrés Ramón Mónica Guadalupe"
        ),
        _latin(
            "García Fernández González Rodríguez López Martínez Sánchez Pérez Gómez "
            "Martín Jiménez Ruiz Hernández Díaz Moreno Muñoz Álvarez Romero Núñez Peña "
            "Ibáñez Castillo Ortega Rubio Marín Sanz Iglesias Domínguez"
        ),
        (("ES", "EUR", 4), ("MX", "MXN", 3), ("AR", "ARS", 1), ("CO", "COP", 1)),
        ("gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net"),
        weight=8,
    ),
    Locale(
        _latin(
            "Søren Bjørn Åsa Jørgen Mette Kirsten Ole Lars Nils Ingrid Sigrid Øystein "
            "Linnéa Astrid Maja Freja Magnus Håkon Tove Kjell Göran Björk"
        ),
        _latin(
            "Jørgensen Østergaard Sørensen Nielsen Hansen Pedersen Andersen Larsen "
            "Johansson Karlsson Nilsson Eriksson Lindström Åberg Ångström Bäckström "
            "Håkansson Berg Dahl Haugen Løvås Sjöberg"
        ),
        (("NO", "NOK", 1), ("DK", "DKK", 1), ("SE", "SEK", 2), ("FI", "EUR", 1)),
        ("gmail.com", "online.no", "hotmail.se", "live.dk", "telia.com"),
        weight=4,
    ),
    Locale(
        _latin(
            "Łukasz Paweł Michał Małgorzata Agnieszka Krzysztof Wojciech Zofia Anna "
            "Katarzyna Jakub Bartłomiej Grzegorz Ewa Tomasz"
        ),
        _latin(
            "Nowak Kowalski Wiśniewski Wójcik Kowalczyk Kamiński Lewandowski Zieliński "
            "Szymański Woźniak Dąbrowski Kozłowski Mazur Krawczyk"
        ),
        (("PL", "PLN", 1),),
        ("wp.pl", "onet.pl", "o2.pl", "gmail.com", "interia.pl"),
        weight=3,
    ),
    Locale(
        _latin(
            "João José Gonçalo Conceição Inês Luís André Mônica Antônio Vitória "
            "Sebastião Ana Beatriz Rafael Gabriel Letícia Júlia"
        ),
        _latin(
            "Silva Santos Oliveira Souza Gonçalves Pereira Ferreira Rodrigues Alves "
            "Lima Araújo Magalhães Carvalho Ribeiro Gomes Barbosa"
        ),
        (("BR", "BRL", 3), ("PT", "EUR", 1)),
        ("gmail.com", "uol.com.br", "bol.com.br", "hotmail.com", "sapo.pt"),
        weight=5,
    ),
    Locale(
        _romanised(
            "伟=Wei 芳=Fang 娜=Na 敏=Min 静=Jing 丽=Li 强=Qiang 磊=Lei 军=Jun 洋=Yang "
            "艳=Yan 勇=Yong 杰=Jie 娟=Juan 涛=Tao 明=Ming 超=Chao 秀英=Xiuying "
            "小红=Xiaohong 建华=Jianhua 志强=Zhiqiang 桂英=Guiying"
        ),
        _romanised(
            "王=Wang 李=Li 张=Zhang 刘=Liu 陈=Chen 杨=Yang 黄=Huang 赵=Zhao 吴=Wu "
            "周=Zhou 徐=Xu 孙=Sun 马=Ma 朱=Zhu 胡=Hu 郭=Guo 何=He 林=Lin 欧阳=Ouyang"
        ),
        (("CN", "CNY", 5), ("TW", "TWD", 1), ("SG", "SGD", 1)),
        ("qq.com", "163.com", "126.com", "sina.com", "gmail.com"),
        family_first=True,
        name_separator="",
        weight=6,
    ),
    Locale(
        _romanised(
            "健=Ken 花子=Hanako 翔太=Shota 陽菜=Hina 大輝=Daiki 美咲=Misaki 拓也=Takuya "
            "結衣=Yui 蓮=Ren さくら=Sakura 優子=Yuko 直樹=Naoki"
        ),
        _romanised(
            "佐藤=Sato 鈴木=Suzuki 高橋=Takahashi 田中=Tanaka 渡辺=Watanabe 伊藤=Ito "
            "山本=Yamamoto 中村=Nakamura 小林=Kobayashi 加藤=Kato 吉田=Yoshida"
        ),
        (("JP", "JPY", 1),),
        ("yahoo.co.jp", "docomo.ne.jp", "gmail.com", "ezweb.ne.jp", "icloud.com"),
        family_first=True,
        name_separator="\u3000",  # ideographic space, as Japanese forms often store it
        weight=4,
    ),
    Locale(
        _romanised(
            "민준=Minjun 서연=Seoyeon 지호=Jiho 하은=Haeun 도윤=Doyun 지우=Jiwoo 수빈=Subin 현우=Hyunwoo"
        ),
        _romanised("김=Kim 이=Lee 박=Park 최=Choi 정=Jung 강=Kang 조=Cho 윤=Yoon"),
        (("KR", "KRW", 1),),
        ("naver.com", "daum.net", "gmail.com", "hanmail.net"),
        family_first=True,
        name_separator="",
        weight=2,
    ),
    Locale(
        _romanised(
            "Дмитрий=Dmitry Анна=Anna Сергей=Sergey Ольга=Olga Алексей=Alexey "
            "Наталья=Natalya Иван=Ivan Екатерина=Ekaterina Михаил=Mikhail Мария=Maria"
        ),
        _romanised(
            "Иванов=Ivanov Смирнов=Smirnov Кузнецов=Kuznetsov Попов=Popov "
            "Соколов=Sokolov Лебедев=Lebedev Козлов=Kozlov Новиков=Novikov"
        ),
        (("RU", "RUB", 2), ("KZ", "KZT", 1)),
        ("yandex.ru", "mail.ru", "gmail.com", "rambler.ru"),
        weight=2,
    ),
    Locale(
        _latin("Çağla Gökhan Şule İbrahim Ayşe Mehmet Özge Emre Elif Burak Zeynep"),
        _latin("Yılmaz Kaya Demir Şahin Çelik Öztürk Aydın Arslan Doğan Kılıç"),
        (("TR", "TRY", 1),),
        ("gmail.com", "hotmail.com.tr", "yandex.com.tr", "outlook.com"),
        weight=2,
    ),
    Locale(
        _latin("Mohammed Ahmed Fatima Aisha Omar Youssef Priya Rahul Ananya Arjun Sanjay Deepika Vikram"),
        _latin("Khan Sharma Gupta Singh Ali Hassan Reddy Iyer Kumar Mehta Chaudhary"),
        (("IN", "INR", 4), ("AE", "AED", 1), ("GB", "GBP", 1)),
        ("gmail.com", "yahoo.co.in", "rediffmail.com", "outlook.com"),
        weight=5,
    ),
    Locale(
        _latin("Luca Giulia Francesco Chiara Alessandro Sofia Niccolò Federica Matteo"),
        _latin("Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Fabbri"),
        (("IT", "EUR", 1),),
        ("libero.it", "gmail.com", "alice.it", "virgilio.it", "tiscali.it"),
        weight=4,
    ),
)


@dataclass(frozen=True)
class Person:
    """A customer as a shop database holds them (names may be messy)."""

    name: str
    email: str
    country: str  # ISO 3166 alpha-2
    currency: str  # ISO 4217
    language: str  # BCP 47, e.g. "de-AT"


_LANGUAGES = {
    "US": "en",
    "GB": "en",
    "CA": "en",
    "AU": "en",
    "IE": "en",
    "NZ": "en",
    "IN": "en",
    "DE": "de",
    "AT": "de",
    "CH": "de",
    "FR": "fr",
    "BE": "fr",
    "ES": "es",
    "MX": "es",
    "AR": "es",
    "CO": "es",
    "NO": "nb",
    "DK": "da",
    "SE": "sv",
    "FI": "fi",
    "PL": "pl",
    "BR": "pt",
    "PT": "pt",
    "CN": "zh",
    "TW": "zh",
    "SG": "en",
    "JP": "ja",
    "KR": "ko",
    "RU": "ru",
    "KZ": "ru",
    "TR": "tr",
    "AE": "ar",
    "IT": "it",
}


def _email(rng: PoolRandom, first: str, last: str, domain: str) -> str:
    first, last = first.lower().replace(" ", ""), last.lower().replace(" ", "")
    year = str(rng.between(1950, 2006))
    if domain == "qq.com":
        return f"{rng.between(10_000_000, 3_999_999_999)}@qq.com"
    pattern = rng.weighted(
        (
            (f"{first}.{last}", 30),
            (f"{first[0]}{last}", 15),
            (f"{first}{last}", 10),
            (f"{first}_{last}", 6),
            (f"{first}.{last}{year[2:]}", 10),
            (f"{first}{year}", 8),
            (f"{last}.{first}", 5),
            (f"{first}{rng.between(1, 999)}", 12),
            (f"{first}.{last}+shop", 2),
        )
    )
    return f"{pattern}@{domain}"


def random_person(rng: PoolRandom) -> Person:
    """A customer from one of :data:`LOCALES`, with a realistic share of
    names that need quoting in CSV ("Last, First", "Jr.", nicknames)."""
    locale = rng.weighted(tuple((loc, loc.weight) for loc in LOCALES))
    first, first_ascii = rng.choice(locale.first_names)
    last, last_ascii = rng.choice(locale.last_names)
    country, currency, _ = rng.weighted(tuple((c, c[2]) for c in locale.countries))
    if locale.family_first:
        name = last + locale.name_separator + first
    else:
        style = rng.weighted(
            (("plain", 76), ("last_first", 12), ("suffix", 3), ("nick", 2), ("initial", 5), ("upper", 2))
        )
        if style == "last_first":
            name = f"{last}, {first}"
        elif style == "suffix":
            name = f"{first} {last}, {rng.choice(('Jr.', 'Sr.', 'III', 'PhD', 'MD'))}"
        elif style == "nick":
            name = f'{first} "{rng.choice(("Bob", "Liz", "Kat", "Max", "Jo"))}" {last}'
        elif style == "initial":
            name = f"{first} {chr(ord('A') + rng.below(26))}. {last}"
        elif style == "upper":
            name = f"{first} {last}".upper()
        else:
            name = f"{first} {last}"
    email = _email(rng, first_ascii, last_ascii, rng.choice(locale.domains))
    return Person(name, email, country, currency, f"{_LANGUAGES[country]}-{country}")
