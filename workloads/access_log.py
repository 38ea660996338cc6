"""``log``: an nginx access log in the *combined* format, one request a line.

::

    203.0.113.42 - - [10/Mar/2024:06:25:00 +0000] "GET /products/linen-shirt-1042 HTTP/2.0" 200 \\
    48213 "https://www.google.com/" "Mozilla/5.0 (iPhone; ...) Safari/604.1"

(one line, wrapped here at ``\\``).

The traffic of a small web shop (``shop.example.com``), seen by its front
nginx: ~4k clients (IPv4 and ~10% IPv6) of five kinds - browsers, search
crawlers (Googlebot from 66.249.x.x, ...), vulnerability scanners (``/.env``,
``/wp-login.php`` -> 404), load-balancer health checks from 10.x and API
scripts - each kind with its own request mix and user agent. Request
popularity is Zipf-like (``/``, the bundles and a few products dominate); the
status mix is mostly 200, with 304 for revalidated assets (0 bytes, as nginx
logs them), 301/302 redirects, 404s, and the odd 499/500/502/503. Timestamps
never decrease (~80 requests a second, second resolution, UTC); response
sizes vary on every line within each resource's usual range.

Every line matches :data:`COMBINED_LOG_RE`. No request-time field is
appended. Lines end with ``\\n``. Size: as for every text kind, the shortest
whole-line prefix of the seed's endless stream that is at least
``size_bytes`` long (a request for 1 byte gives one line; 0 gives nothing).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np

from streambench.workloads.base import Block
from streambench.workloads.textgen import (
    TIME_OF_DAY,
    Pool,
    PoolRandom,
    RowBatch,
    Write,
    below_lo,
    day_words,
    le_word,
    left_digits,
    stream_blocks,
    u64,
    weighted_table,
    zipf_weights,
)

#: nginx's ``combined`` log_format. Groups are named after nginx variables.
COMBINED_LOG_RE: re.Pattern[str] = re.compile(
    r"(?P<remote_addr>[0-9A-Fa-f.:]+) - (?P<remote_user>-|[^\s\[\]]+) "
    r"\[(?P<time_local>\d{2}/(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)/\d{4}"
    r":\d{2}:\d{2}:\d{2} [+-]\d{4})\] "
    r'"(?P<request>(?P<method>[A-Z]+) (?P<request_uri>[^\s"]+) (?P<protocol>HTTP/\d\.\d))" '
    r"(?P<status>[1-5]\d\d) (?P<body_bytes_sent>\d+) "
    r'"(?P<http_referer>[^"]*)" "(?P<http_user_agent>[^"]*)"'
)

#: ~2.1 MiB per block at ~260 bytes a line; small batches keep NumPy's
#: temporaries and the joined buffer in L2, which is faster than big ones.
ROWS_PER_BLOCK = 8_192

_POOL_SEED = 0x5EED_10C5
_START_MILLIS = 1_710_051_900_000  # 2024-03-10T06:25:00Z
_TS_TEMPLATE = b"00/Jan/0000:00:00:00"
_SITE = "https://shop.example.com"

# --- user agents -----------------------------------------------------------

_CHROME = "Mozilla/5.0 ({os}) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/{v}.0.0.0 Safari/537.36"
_CHROME_MOBILE = (
    "Mozilla/5.0 (Linux; Android {a}; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Mobile Safari/537.36"
)
_SAFARI = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{v} Safari/605.1.15"
)
_IOS = (
    "Mozilla/5.0 ({device}; CPU {os} {v} like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/{short} Mobile/15E148 Safari/604.1"
)
_FIREFOX = "Mozilla/5.0 ({os}; rv:{v}.0) Gecko/20100101 Firefox/{v}.0"


def _browser_agents() -> list[tuple[str, int]]:
    """(user agent, weight) for the browsers of a 2024 shop's visitors."""
    agents: list[tuple[str, int]] = []
    for version, share in ((123, 4), (122, 10), (121, 5), (120, 2), (119, 1)):
        agents.append((_CHROME.format(os="Windows NT 10.0; Win64; x64", v=version), 6 * share))
        agents.append((_CHROME.format(os="Macintosh; Intel Mac OS X 10_15_7", v=version), 2 * share))
        agents.append((_CHROME.format(os="X11; Linux x86_64", v=version), share // 2))
        agents.append((_CHROME_MOBILE.format(a=10, v=version), 7 * share))
        agents.append(
            (_CHROME.format(os="Windows NT 10.0; Win64; x64", v=version) + f" Edg/{version}.0.2365.66", share)
        )
    for ios, share in (("17_3_1", 30), ("17_2_1", 12), ("16_7_5", 6), ("16_6", 3)):
        short = ios.replace("_", ".")
        short = ".".join(short.split(".")[:2])
        agents.append((_IOS.format(device="iPhone", os="iPhone OS", v=ios, short=short), share))
        agents.append((_IOS.format(device="iPad", os="OS", v=ios, short=short), share // 4))
    for safari, share in (("17.3.1", 8), ("17.2.1", 3), ("16.6", 2)):
        agents.append((_SAFARI.format(v=safari), share))
    for version, share in ((123, 4), (122, 3), (115, 1)):
        agents.append((_FIREFOX.format(os="Windows NT 10.0; Win64; x64", v=version), share))
        agents.append((_FIREFOX.format(os="X11; Ubuntu; Linux x86_64", v=version), share // 2 + 1))
        agents.append((_FIREFOX.format(os="Macintosh; Intel Mac OS X 10.15", v=version), share // 2))
    agents += [
        (
            "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-S911B) AppleWebKit/537.36 (KHTML, like "
            "Gecko) SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            8,
        ),
        ("ShopApp/5.12.1 (iPhone; iOS 17.3.1; Scale/3.00)", 5),
        ("Dalvik/2.1.0 (Linux; U; Android 14; Pixel 7 Build/UQ1A.240205.004)", 3),
        ("facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", 1),
        ("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", 1),
    ]
    return [(agent, weight) for agent, weight in agents if weight > 0]


_BOTS = (  # (user agent, IPv4 prefix the crawler comes from, weight)
    ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "66.249.66.", 8),
    (
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, "
        "like Gecko) Chrome/122.0.6261.94 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        "66.249.68.",
        10,
    ),
    ("Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "40.77.167.", 5),
    ("Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "54.36.148.", 3),
    ("Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)", "213.180.203.", 2),
    ("Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)", "185.191.171.", 2),
)
_SCANNER_AGENTS = (
    "Mozilla/5.0 zgrab/0.x",
    "Mozilla/5.0 (compatible; CensysInspect/1.1; +https://about.censys.io/)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/78.0.3904.108 Safari/537.36",
    "python-requests/2.25.1",
    "-",
    "Go-http-client/1.1",
)
_HEALTH_AGENTS = ("kube-probe/1.28", "ELB-HealthChecker/2.0")
_SCRIPT_AGENTS = (
    "curl/8.5.0",
    "curl/7.81.0",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
    "okhttp/4.12.0",
    "axios/1.6.7",
    "PostmanRuntime/7.36.3",
)

# --- clients ---------------------------------------------------------------

_CATEGORIES = ("browser", "bot", "scanner", "health", "script")
_BROWSER, _BOT, _SCANNER, _HEALTH, _SCRIPT = range(len(_CATEGORIES))


@dataclass(frozen=True)
class _Client:
    text: bytes  # '203.0.113.42 - - [<time> +0000] "'
    category: int
    agent: int
    protocol: int  # index in _PROTOCOLS: a client keeps its HTTP version
    weight: int


def _ipv4(rng: PoolRandom) -> str:
    while True:
        first = rng.between(1, 223)
        if first not in (10, 100, 127, 169, 172, 192, 198, 203):  # keep clear of special ranges
            return f"{first}.{rng.below(256)}.{rng.below(256)}.{rng.between(1, 254)}"


def _ipv6(rng: PoolRandom) -> str:
    prefix = rng.choice(("2a02:8108", "2a01:4f8", "2600:1700", "2001:16b8", "2409:8a1e", "2a00:23c7"))
    groups = [f"{rng.below(1 << 16):x}" for _ in range(2)]
    if rng.below(3) == 0:  # privacy address: a full interface id
        return prefix + ":" + ":".join(groups + [f"{rng.below(1 << 16):x}" for _ in range(4)])
    return prefix + ":" + ":".join(groups) + f"::{rng.below(1 << 16):x}"


def _clients(rng: PoolRandom, agents: list[str], browser_agents: list[tuple[int, int]]) -> list[_Client]:
    clients: list[tuple[str, str, int, int, int]] = []  # ip, user, category, agent, weight
    # Browsers: Zipf-like, a few heavy users (offices behind NAT) and a long tail.
    browser_weights = zipf_weights(3_600, offset=40)
    for weight in browser_weights:
        ip = _ipv6(rng) if rng.below(10) == 0 else _ipv4(rng)
        user = "-"
        if rng.below(200) == 0:  # basic-auth staff pages
            user = rng.choice(("alice", "bob", "ops", "m.schulz", "jdoe"))
        clients.append((ip, user, _BROWSER, rng.weighted(browser_agents), weight))
    # Shares of all requests, in percent of the browsers' 85.
    browsers = sum(browser_weights)
    bot_shares = sum(weight for _, _, weight in _BOTS)
    for bot_agent, prefix, weight in _BOTS:
        for _ in range(6):
            ip = prefix + str(rng.between(1, 254))
            share = browsers * 8 * weight // (85 * bot_shares * 6)
            clients.append((ip, "-", _BOT, agents.index(bot_agent), share))
    for _ in range(240):
        agent = agents.index(rng.choice(_SCANNER_AGENTS))
        clients.append((_ipv4(rng), "-", _SCANNER, agent, browsers * 2 // (85 * 240)))
    for i in range(4):
        agent = agents.index(_HEALTH_AGENTS[i % 2])
        ip = f"10.0.{i + 1}.{rng.between(2, 250)}"
        clients.append((ip, "-", _HEALTH, agent, browsers * 3 // (85 * 4)))
    for _ in range(60):
        agent = agents.index(rng.choice(_SCRIPT_AGENTS))
        user = rng.choice(("-", "-", "-", "api", "deploy", "jenkins"))
        clients.append((_ipv4(rng), user, _SCRIPT, agent, browsers * 2 // (85 * 60)))
    # Shuffle (Fisher-Yates) so that pool order says nothing about popularity.
    for i in range(len(clients) - 1, 0, -1):
        j = rng.below(i + 1)
        clients[i], clients[j] = clients[j], clients[i]
    # HTTP/1.1 = 0, HTTP/2.0 = 1, HTTP/1.0 = 2, per kind of client.
    protocols = {
        _BROWSER: ((0, 40), (1, 60)),
        _BOT: ((0, 1),),
        _SCANNER: ((0, 3), (2, 1)),
        _HEALTH: ((0, 1),),
        _SCRIPT: ((0, 4), (1, 1)),
    }
    return [
        _Client(
            text=f"{ip} - {user} [".encode() + _TS_TEMPLATE + b' +0000] "',
            category=category,
            agent=agent,
            protocol=rng.weighted(protocols[category]),
            weight=weight,
        )
        for ip, user, category, agent, weight in clients
    ]


# --- requests --------------------------------------------------------------

# Words for product and blog slugs.
_WORDS_TEXT = (
    "linen shirt mug ceramic wool scarf leather wallet desk lamp oak table cotton tote "
    "espresso cup glass vase canvas bag travel kit candle soy wax teapot cast iron pan bamboo "
    "cutting board yoga mat water bottle notebook fountain pen backpack sneaker raincoat "
    "beanie throw blanket pillow case planter"
)
_WORDS = tuple(_WORDS_TEXT.split())
_CATEGORY_SLUGS = (
    "kitchen",
    "home-decor",
    "bedding",
    "bath",
    "outdoor",
    "men",
    "women",
    "kids",
    "accessories",
    "stationery",
    "gifts",
    "sale",
    "new-arrivals",
    "bestsellers",
)
_SEARCH_TERMS = (
    "mug",
    "linen+shirt",
    "caf%C3%A9",
    "gift+for+her",
    "teapot",
    "blue+scarf",
    "sale",
    "candle",
    "backpack",
    "%E6%9D%AF%E5%AD%90",
    "sneaker+size+42",
    "oak",
    "vase",
    "wool",
)
_SCANNER_PATHS = (
    "/wp-login.php",
    "/xmlrpc.php",
    "/.env",
    "/.git/config",
    "/wp-admin/setup-config.php",
    "/phpmyadmin/index.php",
    "/admin.php",
    "/vendor/phpunit/phpunit/src/Util/PHP/eval-stdin.php",
    "/cgi-bin/luci/;stok=/locale",
    "/actuator/health",
    "/server-status",
    "/HNAP1/",
    "/boaform/admin/formLogin",
    "/owa/auth/logon.aspx",
    "/.aws/credentials",
    "/config.json",
    "/backup.zip",
    "/wp-content/plugins/wp-file-manager/readme.txt",
    "/.DS_Store",
    "/solr/admin/info/system?wt=json",
    "/?XDEBUG_SESSION_START=phpstorm",
    "/api/.env",
    "/shell.php",
    "/telescope/requests",
    "/debug/default/view?panel=config",
)
_SEARCH_REFERERS = (
    "https://www.google.com/",
    "https://www.google.de/",
    "https://www.bing.com/",
    "https://duckduckgo.com/",
    "https://www.ecosia.org/",
    "https://search.yahoo.com/",
)
_SOCIAL_REFERERS = (
    "https://t.co/",
    "https://www.facebook.com/",
    "https://l.instagram.com/",
    "android-app://com.google.android.gm/",
    "https://www.pinterest.com/",
    "https://out.reddit.com/",
)


@dataclass(frozen=True)
class _Resource:
    method: str
    path: str
    kind: str  # a key of _RESPONSES: page, asset, image, api, write, beacon, ...
    weights: tuple[int, ...]  # popularity per client category
    size_bytes: int  # typical body size of a 200


def _resources(rng: PoolRandom) -> list[_Resource]:
    resources: list[_Resource] = []

    def add(
        method: str,
        path: str,
        kind: str,
        size: int,
        browser: int,
        bot: int = 0,
        scanner: int = 0,
        health: int = 0,
        script: int = 0,
    ) -> None:
        resources.append(_Resource(method, path, kind, (browser, bot, scanner, health, script), size))

    hashes = [f"{rng.below(1 << 32):08x}" for _ in range(8)]
    add("GET", "/", "page", 38_000, 400, 30, 40)
    add("GET", "/favicon.ico", "asset", 5_430, 160, 4, 8)
    add("GET", "/robots.txt", "bot_file", 312, 2, 120, 20)
    add("GET", "/sitemap.xml", "bot_file", 184_000, 0, 40)
    add("GET", "/apple-touch-icon.png", "asset", 9_800, 20)
    add("GET", f"/static/css/main.{hashes[0]}.css", "asset", 61_000, 260)
    add("GET", f"/static/js/main.{hashes[1]}.js", "asset", 412_000, 260)
    add("GET", f"/static/js/vendor.{hashes[2]}.js", "asset", 802_000, 250)
    add("GET", f"/static/js/runtime.{hashes[3]}.js", "asset", 3_100, 250)
    add("GET", "/static/fonts/inter-var.woff2", "asset", 96_000, 90)
    add("GET", "/static/img/logo.svg", "asset", 4_200, 240)
    for i in range(1, 7):
        add("GET", f"/static/img/hero-{i}.webp", "image", 140_000 + 9_000 * i, 60 // i)
    add("POST", "/api/v1/events", "beacon", 0, 320, script=20)
    add("OPTIONS", "/api/v1/events", "beacon", 0, 30)
    add("GET", "/api/v1/cart", "api", 1_800, 140, script=10)
    add("POST", "/api/v1/cart/items", "write", 1_900, 60, script=10)
    add("GET", "/cart", "page", 24_000, 70)
    add("GET", "/checkout", "page", 31_000, 30)
    add("POST", "/api/v1/checkout", "write", 700, 12, script=2)
    add("GET", "/account/orders", "page", 27_000, 12)
    add("GET", "/login", "page", 14_000, 20, scanner=5)
    add("POST", "/login", "write", 300, 12, scanner=10)
    add("GET", "/index.html", "redirect", 169, 8, 4)
    add("GET", "/shop", "redirect", 169, 4, 2)
    add("GET", "/account", "redirect", 145, 10)
    add("GET", "/healthz", "health", 2, 0, health=50)
    add("GET", "/readyz", "health", 15, 0, health=20)
    add("GET", "/api/v1/status", "api", 64, 0, health=5, script=20)
    for slug in _CATEGORY_SLUGS:
        popularity = rng.between(20, 90)
        add("GET", f"/category/{slug}", "page", rng.between(30_000, 60_000), popularity, 8)
        for page in range(2, 5):
            sort = rng.choice(("price_asc", "price_desc", "newest", "popular"))
            add(
                "GET",
                f"/category/{slug}?page={page}&sort={sort}",
                "page",
                rng.between(30_000, 60_000),
                popularity // (2 * page),
                3,
            )
        add(
            "GET",
            f"/api/v1/products?category={slug}&limit=24&offset={24 * rng.below(6)}",
            "api",
            rng.between(8_000, 24_000),
            popularity // 2,
            script=2,
        )
    for term in _SEARCH_TERMS:
        add("GET", f"/search?q={term}", "page", rng.between(20_000, 50_000), rng.between(3, 12))
        add("GET", f"/api/v1/search/suggest?q={term[:3]}", "api", rng.between(300, 1_400), rng.between(4, 16))
    product_weights = zipf_weights(700, offset=3)
    for rank in range(700):
        product_id = rng.between(1_000, 99_999)
        name = "-".join(rng.choice(_WORDS) for _ in range(rng.between(2, 3)))
        weight = max(product_weights[rank] * 400 // product_weights[0], 1)
        add(
            "GET",
            f"/products/{name}-{product_id}",
            "page",
            rng.between(35_000, 90_000),
            weight,
            max(weight // 8, 1),
        )
        add(
            "GET",
            f"/images/products/{product_id}/800x800.webp",
            "image",
            rng.between(40_000, 260_000),
            weight,
        )
        add(
            "GET",
            f"/images/products/{product_id}/400x400.webp",
            "image",
            rng.between(12_000, 70_000),
            weight // 2,
            max(weight // 20, 1),
        )
        add(
            "GET",
            f"/api/v1/products/{product_id}/reviews?page={rng.between(1, 3)}",
            "api",
            rng.between(1_500, 9_000),
            weight // 4,
        )
        add(
            "GET",
            f"/api/v1/recommendations?product_id={product_id}&limit=8",
            "api",
            rng.between(3_000, 7_000),
            weight // 3,
            script=1,
        )
    for _ in range(60):
        title = "-".join(rng.choice(_WORDS) for _ in range(rng.between(3, 5)))
        add(
            "GET", f"/blog/{title}", "page", rng.between(28_000, 70_000), rng.between(1, 6), rng.between(1, 4)
        )
    for path in _SCANNER_PATHS:
        add(
            rng.choice(("GET", "GET", "POST", "HEAD")) if "?" not in path else "GET",
            path,
            "scanner",
            rng.between(150, 170),
            0,
            scanner=rng.between(5, 30),
        )
    return resources


# Response variants per resource kind: (status, share in 1/1000, body size).
# The body size is "rel" (the resource's own size, +-12%), "zero" (nginx
# logs 0 for 304 and 204), or a fixed (smallest, largest) range, e.g.
# nginx's built-in error and redirect pages.
_Body = str | tuple[int, int]
_RESPONSES: dict[str, tuple[tuple[int, int, _Body], ...]] = {
    "page": (
        (200, 935, "rel"),
        (304, 30, "zero"),
        (404, 12, (4_100, 4_900)),
        (499, 8, "rel"),
        (500, 4, (2_900, 3_400)),
        (502, 3, (150, 170)),
        (503, 2, (190, 199)),
        (302, 6, (138, 145)),
    ),
    "asset": ((200, 640, "rel"), (304, 352, "zero"), (404, 2, (4_100, 4_900)), (499, 6, "rel")),
    "image": ((200, 720, "rel"), (304, 265, "zero"), (404, 10, (4_100, 4_900)), (499, 5, "rel")),
    "api": (
        (200, 955, "rel"),
        (304, 8, "zero"),
        (404, 12, (40, 99)),
        (429, 8, (60, 99)),
        (500, 8, (100, 199)),
        (502, 5, (150, 170)),
        (504, 4, (160, 179)),
    ),
    "write": (
        (200, 400, "rel"),
        (201, 350, "rel"),
        (400, 120, (60, 99)),
        (401, 40, (30, 60)),
        (422, 60, (100, 399)),
        (500, 20, (100, 199)),
        (503, 10, (190, 199)),
    ),
    "beacon": ((204, 985, "zero"), (400, 10, (30, 60)), (503, 5, (190, 199))),
    "scanner": ((404, 880, (146, 169)), (403, 100, (146, 169)), (400, 20, (150, 166))),
    "health": ((200, 997, "rel"), (503, 3, (190, 199))),
    "redirect": ((301, 1000, (162, 169)),),
    "bot_file": ((200, 940, "rel"), (304, 60, "zero")),
}
_KINDS = tuple(_RESPONSES)
_PROTOCOLS = ("HTTP/1.1", "HTTP/2.0", "HTTP/1.0")
_STATUS_TABLE_LOG2 = 10
_REFERER_TABLE_LOG2 = 8
_MAX_BODY_DIGITS = 8


def _decade(low: int, high: int) -> tuple[int, int, int]:
    """Clamp [low, high] to one decade (so the digit count is fixed):
    (digits, low, span)."""
    low = max(low, 10)  # two digits at least: see _LogPools.status_items
    digits = len(str(low))
    high = min(max(high, low), 10**digits - 1)
    return digits, low, high - low + 1


class _LogPools:
    """Clients, request lines, responses, referers and user agents: the same
    for every seed. A line is one entry of each, in that order::

        client:   '203.0.113.42 - - [10/Mar/2024:06:25:00 +0000] "'
        request:  'GET /products/linen-shirt-1042 HTTP/2.0'
        response: '" 200 48213 "'     (the size is written per line)
        referer:  'https://www.google.com/" "'
        agent:    'Mozilla/5.0 (...) Safari/604.1"\\n'
    """

    def __init__(self) -> None:
        rng = PoolRandom(_POOL_SEED)
        browser = _browser_agents()
        agents = [agent for agent, _ in browser]
        agents += [b[0] for b in _BOTS] + list(_SCANNER_AGENTS + _HEALTH_AGENTS + _SCRIPT_AGENTS)
        clients = _clients(rng, agents, [(i, w) for i, (_, w) in enumerate(browser)])
        resources = _resources(rng)
        pages = [r.path for r in resources if r.kind == "page"][:200]
        referers = ["-", *_SEARCH_REFERERS, *_SOCIAL_REFERERS, *(_SITE + p for p in pages)]

        self.clients = Pool.of([c.text for c in clients])
        self.client_table = weighted_table([c.weight for c in clients], 16)
        self.client_category = np.array([c.category for c in clients], dtype=np.int64)
        self.client_agent = np.array([c.agent for c in clients], dtype=np.int64)
        self.client_protocol = np.array([c.protocol for c in clients], dtype=np.int64)
        self.client_ts_offset = np.array(
            [len(c.text) - len(_TS_TEMPLATE) - 9 for c in clients], dtype=np.int64
        )

        self.requests = Pool.of([f"{r.method} {r.path} {p}".encode() for r in resources for p in _PROTOCOLS])
        # One 64k-slot table per client category, back to back: a resource
        # is drawn with ``category << 16 | 16 random bits``.
        self.resource_tables = np.concatenate(
            [
                weighted_table([r.weights[category] for r in resources], 16).astype(np.int16)
                for category in range(len(_CATEGORIES))
            ]
        )
        self.resource_kind = np.array([_KINDS.index(r.kind) for r in resources], dtype=np.int64)
        sizes = [
            _decade(r.size_bytes - r.size_bytes // 8, r.size_bytes + r.size_bytes // 8) for r in resources
        ]
        self.resource_digits = np.array([s[0] for s in sizes], dtype=np.uint64)
        self.resource_low = np.array([s[1] for s in sizes], dtype=np.uint64)
        self.resource_span = np.array([s[2] for s in sizes], dtype=np.uint64)

        # Response variants, and per kind a 1k-slot table of them.
        variants: list[tuple[int, _Body]] = []
        status_tables = []
        for kind in _KINDS:
            first = len(variants)
            variants += [(status, body) for status, _, body in _RESPONSES[kind]]
            shares = [share for _, share, _ in _RESPONSES[kind]]
            status_tables.append(first + weighted_table(shares, _STATUS_TABLE_LOG2))
        self.status_tables = np.concatenate(status_tables).astype(np.int64)
        codes = sorted({status for status, _ in variants})
        self.variant_code = np.array([codes.index(s) for s, _ in variants], dtype=np.int64)
        self.variant_relative = np.array([b == "rel" for _, b in variants], dtype=np.bool_)
        fixed = [(0, 0, 1) if isinstance(b, str) else _decade(*b) for _, b in variants]
        self.variant_digits = np.array([f[0] for f in fixed], dtype=np.uint64)
        self.variant_low = np.array([f[1] for f in fixed], dtype=np.uint64)
        self.variant_span = np.array([f[2] for f in fixed], dtype=np.uint64)
        # '" 200 00000 "' for every status and digit count; with 0 digits the
        # size is a literal 0 (304, 204) and nothing is written.
        self.responses = Pool.of(
            [
                f'" {code} '.encode() + (b"0" * digits if digits else b"0") + b' "'
                for code in codes
                for digits in range(_MAX_BODY_DIGITS + 1)
            ]
        )

        self.referers = Pool.of([f'{r}" "'.encode() for r in referers])
        # The size's word runs on into ' "' and the referer's first 4 bytes.
        self.referer_head = np.array([le_word(f'{r}" "'.encode()[:4]) for r in referers], dtype=np.uint64)
        n_search, n_social = len(_SEARCH_REFERERS), len(_SOCIAL_REFERERS)
        internal = list(range(1 + n_search + n_social, len(referers)))
        referer_weights: dict[str, list[int]] = {
            "page": [
                40 * 60,
                *[28 * 60 // n_search] * n_search,
                *[8 * 60 // n_social] * n_social,
                *[24 * 60 // len(internal)] * len(internal),
            ],
            "linked": [8 * 60, *[0] * (n_search + n_social), *[92 * 60 // len(internal)] * len(internal)],
            "none": [1, *[0] * (len(referers) - 1)],
        }
        kind_referers = {
            "page": "page",
            "asset": "linked",
            "image": "linked",
            "api": "linked",
            "write": "linked",
            "beacon": "linked",
            "scanner": "none",
            "health": "none",
            "redirect": "page",
            "bot_file": "none",
        }
        self.referer_tables = np.concatenate(
            [weighted_table(referer_weights[kind_referers[kind]], _REFERER_TABLE_LOG2) for kind in _KINDS]
        ).astype(np.int64)
        self.agents = Pool.of([f'{agent}"\n'.encode() for agent in agents])


@cache
def log_pools() -> _LogPools:
    return _LogPools()


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _clf_date_head(day: dt.date) -> bytes:
    return f"{day.day:02d}/{_MONTHS[day.month - 1]}/{day.year}:".encode()[:8]  # "10/Mar/2"


def _clf_date_tail(day: dt.date) -> bytes:
    return f"{day.year}:".encode()[1:]  # "024:"


# Gaps between requests in ms, for ~80 requests/s: mostly short, a long tail.
_STEP_MILLIS = np.array(
    [0] * 40
    + [1] * 24
    + [2] * 20
    + [3] * 16
    + [5] * 20
    + [8] * 24
    + [12] * 24
    + [18] * 24
    + [25] * 20
    + [35] * 16
    + [50] * 12
    + [80] * 8
    + [120] * 5
    + [250] * 2
    + [700],
    dtype=np.uint64,
)
assert _STEP_MILLIS.size == 256
_QUOTE_AFTER_SIZE = u64(le_word(b' "'))
_LOW16 = u64(0xFFFF)


class _LogStream:
    """Per-call state: the bit generator and the clock."""

    def __init__(self, seed: int) -> None:
        self.pools = log_pools()
        self.bits = np.random.PCG64(seed)
        self.clock_millis = _START_MILLIS

    def batch(self, n_rows: int) -> RowBatch:
        pools = self.pools
        # Word 0: client (bits 0-15), resource (16-31), response (32-41),
        # referer (42-49), time step (50-57). Word 1: body size.
        raw = self.bits.random_raw(2 * n_rows).reshape(2, n_rows)
        draws = raw[0]
        client = pools.client_table[(draws & _LOW16).astype(np.intp)].astype(np.int64)
        category = pools.client_category[client]
        resource = pools.resource_tables[
            (category << 16) | ((draws >> u64(16)) & _LOW16).astype(np.int64)
        ].astype(np.int64)
        request = resource * len(_PROTOCOLS) + pools.client_protocol[client]
        kind = pools.resource_kind[resource]
        variant = pools.status_tables[
            (kind << _STATUS_TABLE_LOG2) | ((draws >> u64(32)) & u64(0x3FF)).astype(np.int64)
        ]
        referer = pools.referer_tables[
            (kind << _REFERER_TABLE_LOG2) | ((draws >> u64(42)) & u64(0xFF)).astype(np.int64)
        ]
        # Only browsers send a Referer.
        referer = np.where(category == _BROWSER, referer, 0)
        agent = pools.client_agent[client]

        millis = u64(self.clock_millis) + np.cumsum(
            _STEP_MILLIS[((draws >> u64(50)) & u64(0xFF)).astype(np.intp)]
        )
        self.clock_millis = int(millis[-1])
        seconds = millis // u64(1000)
        days = (seconds // u64(86_400)).astype(np.int64)
        time_words = TIME_OF_DAY[(seconds % u64(86_400)).astype(np.intp)]
        head_words, tail_words = day_words(days, (_clf_date_head, _clf_date_tail))

        relative = pools.variant_relative[variant]
        digits = np.where(relative, pools.resource_digits[resource], pools.variant_digits[variant])
        low = np.where(relative, pools.resource_low[resource], pools.variant_low[variant])
        span = np.where(relative, pools.resource_span[resource], pools.variant_span[variant])
        size = low + below_lo(raw[1], span)
        size_word = (
            left_digits(size, digits)
            | (_QUOTE_AFTER_SIZE << (digits * u64(8)))
            | (pools.referer_head[referer] << ((digits + u64(2)) * u64(8)))  # 0 if shift >= 64
        )
        response = pools.variant_code[variant] * (_MAX_BODY_DIGITS + 1) + digits.astype(np.int64)

        ts_at = pools.client_ts_offset[client]
        size_at = pools.clients.lengths[client] + pools.requests.lengths[request] + 6
        # A literal "0" needs no write; aim those rows' word at the date,
        # which the next write rewrites anyway.
        no_size = digits == u64(0)
        size_at = np.where(no_size, ts_at, size_at)
        size_word = np.where(no_size, head_words, size_word)
        writes = [
            Write(size_at, size_word),
            Write(ts_at, head_words),  # "10/Mar/2"
            Write(ts_at, tail_words | (time_words << u64(32)), 8),  # "024:06:2"
            Write(ts_at, time_words, 12),  # "06:25:00"
        ]
        return RowBatch(
            pools=[pools.clients, pools.requests, pools.responses, pools.referers, pools.agents],
            indices=[client, request, response, referer, agent],
            writes=writes,
        )


class AccessLogGenerator:
    kind = "log"
    version = 1
    extension = "log"
    media_type = "text/plain"
    summary = "nginx combined access log: Zipf paths, status mix, bots and scanners"

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        return self.blocks_with_cuts(size_bytes, seed, ())

    def blocks_with_cuts(self, size_bytes: int, seed: int, smaller_sizes: Sequence[int]) -> Iterator[Block]:
        stream = _LogStream(seed)
        return stream_blocks(size_bytes, b"", stream.batch, ROWS_PER_BLOCK, smaller_sizes)
