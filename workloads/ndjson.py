"""``ndjson``: an API event stream, one compact JSON object per line.

::

    {"id":1,"created_at":"2024-03-10T06:25:00.017Z","request_id":"<uuid4>",\\
    "actor":{"id":48213,"type":"customer","name":"José Müller",...},"type":"order.created",\\
    "data":{"order_id":"ord_...","items":[{...}],"total":39.98,...},"latency_ms":42,\\
    "api_version":"2024-02-15"}

(one line, wrapped here at ``\\``).

What a web shop's ``GET /v1/events?stream=true`` would send: order, payment,
shipping, login, search, cart, support-message, review and error events, each
with its own nested shape (objects in arrays in objects, up to 4 deep).
Strings carry UTF-8 text in a dozen scripts, user text with ``\\"``, ``\\n``,
``\\t`` and ``\\\\`` escapes, emoji; about 15% of the events come from a
service that escapes all non-ASCII (``\\u00e9``, surrogate pairs). Numbers are
integers and decimals; booleans and nulls appear throughout.

``id`` counts up from 1, ``created_at`` (ms, UTC) never decreases,
``request_id`` is a random UUID and ``latency_ms`` varies on every line;
actors (~2k) and event bodies (~4k) come from fixed pools.

Lines end with ``\\n``; no line contains a raw newline. Size: as for every
text kind, the shortest whole-line prefix of the seed's endless stream that
is at least ``size_bytes`` long (1 byte gives one line, 0 gives nothing).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np

from streambench.workloads.base import Block
from streambench.workloads.people import random_person
from streambench.workloads.textgen import (
    TIME_OF_DAY,
    Pool,
    PoolRandom,
    RowBatch,
    Write,
    below,
    below_lo,
    day_words,
    first_width_run,
    integer_writes,
    iso_date_head,
    iso_date_tail,
    le_word,
    le_words,
    left_digits,
    stream_blocks,
    u64,
    uuid4_writes,
)

#: ~5 MiB per block at ~640 bytes a line.
ROWS_PER_BLOCK = 8_192

_POOL_SEED = 0x5EED_7503
_N_ACTORS = 2_048
_N_EVENTS = 4_096
_START_MILLIS = 1_710_051_900_000  # 2024-03-10T06:25:00Z
_TAIL = b',"api_version":"2024-02-15"}\n'

_Json = dict[str, Any]

# --- vocabulary --------------------------------------------------------------

_PRODUCTS = (
    ("Café Crème Tasse", "kitchen"),
    ("Linen Shirt – Blue", "men"),
    ("陶瓷茶杯", "kitchen"),
    ("Ølglas 4-pak", "kitchen"),
    ("Bougie parfumée « Figue »", "home"),
    ("Wool Scarf, Charcoal", "accessories"),
    ("Cast-Iron Pan 28 cm", "kitchen"),
    ("Leather Wallet (RFID)", "accessories"),
    ("Yoga Mat 6\u202fmm", "outdoor"),
    ("Toalla de baño – algodón", "bath"),
    ('Notebook A5 "Dotted"', "stationery"),
    ("Füller Edelstahl", "stationery"),
    ("Kids' Raincoat", "kids"),
    ("Подушка льняная", "bedding"),
    ("Bamboo Cutting Board", "kitchen"),
    ("Oak Side Table", "home"),
    ("Sneaker Größe 42", "women"),
    ("Tote Bag — Canvas", "accessories"),
    ("Термокружка 350 мл", "outdoor"),
    ("手ぬぐい 桜", "bath"),
    ("Vaso de cristal ×6", "kitchen"),
    ("Beanie 🧶 Merino", "accessories"),
    ("Planter Ø 18 cm", "home"),
    ("Espresso Cup Set", "kitchen"),
    ("Throw Blanket 130×170", "home"),
)
_TAGS = ("gift", "sale", "new", "bestseller", "eco", "limited", "bundle", "clearance", "b2b")
_CITIES = (
    ("DE", "München", "80331", "Königstraße 12"),
    ("DE", "Köln", "50667", "Hohe Straße 4"),
    ("FR", "Paris", "75011", "12 rue de la Roquette"),
    ("ES", "Málaga", "29015", "Calle Larios 5"),
    ("US", "New York", "10001", "350 5th Ave, Apt 4B"),
    ("GB", "London", "SW1A 1AA", "10 Downing St"),
    ("JP", "東京都", "100-0005", "千代田区丸の内1-9-1"),
    ("CN", "上海", "200000", "南京东路 300 号"),
    ("SE", "Malmö", "211 22", "Södergatan 3"),
    ("PL", "Łódź", "90-001", "ul. Piotrkowska 104"),
    ("BR", "São Paulo", "01310-100", "Av. Paulista, 1578"),
    ("RU", "Москва", "101000", "ул. Мясницкая, 7"),
    ("NO", "Tromsø", "9008", "Storgata 62"),
    ("TR", "İstanbul", "34430", "İstiklal Cd. 120"),
)
_MESSAGES = (
    'Hi 👋, where is my order? It says "shipped" since Monday.\nThanks!',
    "Hallo,\nich habe die falsche Größe bekommen (M statt L). Umtausch möglich?",
    "Bonjour, le colis est arrivé abîmé 😞\nPhotos en pièce jointe.",
    "Can I change the address to:\n\t221B Baker Street\n\tLondon",
    "¿Tienen envío a Canarias? Gracias 🙏",
    "我的订单还没到，请帮忙查一下。谢谢！",
    "注文番号を確認してください。\nよろしくお願いします。",
    "The code \"SPRING24\" says 'expired' but your email says it's valid until 31/03 \\o/",
    "Путь к файлу: C:\\Users\\anna\\Downloads\\invoice.pdf — не открывается",
    "Great service!!! ⭐⭐⭐⭐⭐",
)
_REVIEWS = (
    ("Très bien", "Le produit est arrivé rapidement.\nJe recommande !", 5),
    ("Meh", 'Colour is not as in the photo. "Navy" is more like black.', 3),
    ("Perfekt", "Genau wie beschrieben. Würde wieder kaufen 👍", 5),
    ("Broke after a week", "Handle came off.\n\nSupport replied quickly though.", 2),
    ("很好", "质量不错，物流很快。", 4),
    ("Buena calidad", "Un poco caro, pero vale la pena.", 4),
    ("Not for me", "Too small.\tReturned it.", 2),
)
_ERRORS = (
    (
        "checkout",
        'Timeout after 3000ms calling "payments"',
        "Error: Timeout\n    at callPayments (payments.js:42:11)\n"
        "    at async Checkout.run (checkout.js:118:5)",
    ),
    (
        "search",
        "Query parse error near 'café \"crème'",
        "QueryParserError: unexpected '\"'\n    at parse (query.py:88)\n    at handle (views.py:31)",
    ),
    (
        "inventory",
        "Deadlock detected; retrying (attempt 2/3)",
        "psycopg.errors.DeadlockDetected: deadlock detected\nDETAIL:  Process 4411 waits for ShareLock",
    ),
    (
        "images",
        "Unsupported format: image/heic",
        "ValueError: cannot identify image file <_io.BytesIO object at 0x7f3a9c2e1d30>",
    ),
)
_AGENTS = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_3_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/122.0.0.0 Mobile Safari/537.36",
    "ShopApp/5.12.1 (iPhone; iOS 17.3.1; Scale/3.00)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.3.1 Safari/605.1.15",
)
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _token(rng: PoolRandom, prefix: str, length: int = 14) -> str:
    return prefix + "".join(_BASE62[rng.below(62)] for _ in range(length))


def _money(cents: int) -> float:
    # cents / 100 is correctly rounded and repr() is shortest-round-trip, so
    # the text is the same on every platform.
    return cents / 100


def _date(rng: PoolRandom, year: int) -> str:
    return f"{year}-{rng.between(1, 12):02d}-{rng.between(1, 28):02d}"


# --- actors and events -------------------------------------------------------


def _actor(rng: PoolRandom) -> bytes:
    person = random_person(rng)
    kind = rng.weighted((("customer", 90), ("staff", 6), ("service", 4)))
    actor: _Json = {"id": rng.between(1, 999_999), "type": kind}
    if kind == "service":
        actor["name"] = rng.choice(("fulfillment-worker", "stripe-webhook", "erp-sync", "mailer"))
        actor["client_id"] = _token(rng, "cli_", 10)
    else:
        actor |= {
            "name": person.name,
            "email": person.email,
            "locale": person.language,
            "verified": rng.below(10) < 8,
            "roles": ["customer"]
            if kind == "customer"
            else rng.choice((["support"], ["support", "refunds"], ["admin"], ["warehouse"])),
            "tier": rng.choice(("bronze", "silver", "gold", None)),
            "created_at": f"{_date(rng, rng.between(2015, 2023))}T{rng.below(24):02d}:"
            f"{rng.below(60):02d}:{rng.below(60):02d}Z",
            "avatar_url": None if rng.below(3) else f"https://cdn.example.com/a/{_token(rng, '', 10)}.jpg",
        }
    body = json.dumps({"actor": actor}, ensure_ascii=rng.below(100) < 15, separators=(",", ":"))
    return body[1:-1].encode() + b","


def _items(rng: PoolRandom, currency: str) -> tuple[list[_Json], int]:
    items: list[_Json] = []
    subtotal = 0
    for _ in range(rng.weighted(((1, 50), (2, 30), (3, 12), (4, 8)))):
        name, category = rng.choice(_PRODUCTS)
        quantity = rng.weighted(((1, 70), (2, 20), (3, 6), (6, 4)))
        price = rng.between(3, 250) * 100 + rng.choice((99, 0, 50, 95, rng.below(100)))
        subtotal += quantity * price
        items.append(
            {
                "sku": f"SKU-{rng.between(10_000, 99_999)}",
                "name": name,
                "category": category,
                "qty": quantity,
                "unit_price": _money(price),
                "tags": [rng.choice(_TAGS) for _ in range(rng.below(3))],
            }
        )
    return items, subtotal


def _event(rng: PoolRandom) -> tuple[str, _Json]:
    kind = rng.weighted(
        (
            ("order.created", 20),
            ("order.shipped", 8),
            ("payment.succeeded", 12),
            ("payment.failed", 3),
            ("user.login", 15),
            ("search.performed", 15),
            ("cart.updated", 12),
            ("message.sent", 6),
            ("review.posted", 5),
            ("error.reported", 4),
        )
    )
    currency = rng.choice(("EUR", "EUR", "USD", "GBP", "SEK", "PLN", "JPY"))
    country, city, postal_code, street = rng.choice(_CITIES)
    if kind == "order.created":
        items, subtotal = _items(rng, currency)
        tax = subtotal * 19 // 100
        data: _Json = {
            "order_id": _token(rng, "ord_"),
            "status": "pending",
            "items": items,
            "subtotal": _money(subtotal),
            "tax": _money(tax),
            "total": _money(subtotal + tax),
            "currency": currency,
            "shipping": {
                "method": rng.choice(("standard", "express", "pickup")),
                "address": {"line1": street, "city": city, "postal_code": postal_code, "country": country},
            },
            "coupon": rng.choice((None, None, None, "SPRING24", "WELCOME10")),
            "gift": rng.below(10) == 0,
            "note": rng.choice((None, None, 'Bitte "vorsichtig" liefern\nDanke!', "Leave at door")),
        }
    elif kind == "order.shipped":
        data = {
            "order_id": _token(rng, "ord_"),
            "carrier": rng.choice(("DHL", "UPS", "La Poste", "PostNord", "ヤマト運輸")),
            "tracking_number": f"JJD{rng.between(10**11, 10**12 - 1)}",
            "eta": _date(rng, 2024),
            "packages": rng.between(1, 3),
            "weight_kg": rng.between(100, 25_000) / 1000,
        }
    elif kind in ("payment.succeeded", "payment.failed"):
        failed = kind == "payment.failed"
        data = {
            "payment_id": _token(rng, "pay_"),
            "amount": _money(rng.between(300, 90_000)),
            "currency": currency,
            "method": {
                "type": rng.choice(("card", "card", "paypal", "sepa_debit", "klarna")),
                "brand": rng.choice(("visa", "mastercard", "amex", None)),
                "last4": f"{rng.below(10_000):04d}",
                "exp": f"{rng.between(1, 12):02d}/{rng.between(25, 30)}",
            },
            "three_d_secure": rng.below(2) == 0,
            "error": {
                "code": rng.choice(("card_declined", "expired_card", "processing_error")),
                "message": "Your card was declined.\nPlease try another card.",
                "decline_code": rng.choice(("insufficient_funds", "do_not_honor", None)),
            }
            if failed
            else None,
        }
    elif kind == "user.login":
        data = {
            "ip": f"{rng.between(1, 223)}.{rng.below(256)}.{rng.below(256)}.{rng.below(256)}",
            "user_agent": rng.choice(_AGENTS),
            "mfa": rng.choice((None, {"method": "totp", "passed": True}, {"method": "sms", "passed": False})),
            "success": rng.below(20) != 0,
            "geo": {
                "country": country,
                "city": city,
                "lat": rng.between(-900_000, 900_000) / 10_000,
                "lon": rng.between(-1_800_000, 1_800_000) / 10_000,
            },
        }
    elif kind == "search.performed":
        low = rng.between(0, 40)
        data = {
            "query": rng.choice(
                (
                    "café crème",
                    "linen shirt",
                    "茶杯",
                    "größe 42",
                    '"oak table"',
                    "blue  scarf",
                    "ølglas",
                    "mug\tset",
                )
            ),
            "results": rng.between(0, 480),
            "page": rng.between(1, 5),
            "filters": {
                "price": {"min": low, "max": low + rng.between(10, 200)},
                "brands": [rng.choice(("Acme", "Zoë & Co", "Nordlys", "Kōgei")) for _ in range(rng.below(3))],
                "in_stock": rng.below(2) == 0,
            },
            "took_ms": rng.between(2, 180),
        }
    elif kind == "cart.updated":
        items, subtotal = _items(rng, currency)
        data = {
            "cart_id": _token(rng, "cart_", 10),
            "added": items[:1],
            "removed": items[1:2],
            "item_count": len(items) + rng.below(4),
            "value": _money(subtotal),
            "currency": currency,
        }
    elif kind == "message.sent":
        data = {
            "conversation_id": _token(rng, "conv_", 10),
            "from": rng.choice(("customer", "agent")),
            "text": rng.choice(_MESSAGES),
            "attachments": [
                {
                    "name": rng.choice(("screenshot.png", "IMG_2041.HEIC", "rechnung.pdf")),
                    "size": rng.between(10_000, 4_000_000),
                    "mime": rng.choice(("image/png", "application/pdf")),
                }
                for _ in range(rng.weighted(((0, 7), (1, 2), (2, 1))))
            ],
            "language": rng.choice(("en", "de", "fr", "es", "zh", "ja", "ru")),
        }
    elif kind == "review.posted":
        title, text, rating = rng.choice(_REVIEWS)
        data = {
            "product_id": rng.between(1_000, 99_999),
            "rating": rating,
            "title": title,
            "body": text,
            "verified_purchase": rng.below(4) != 0,
            "helpful_votes": rng.weighted(((0, 6), (rng.between(1, 40), 4))),
            "images": [],
        }
    else:
        service, message, stack = rng.choice(_ERRORS)
        data = {
            "service": service,
            "level": rng.choice(("error", "error", "warning", "critical")),
            "message": message,
            "stack": stack,
            "context": {
                "attempt": rng.between(1, 3),
                "region": rng.choice(("eu-west-1", "us-east-1")),
                "feature_flags": {"new_checkout": rng.below(2) == 0, "beta_search": None},
            },
        }
    return kind, data


class _NdjsonPools:
    """Actors and event bodies: the same for every seed.

    A line is ``prefix`` (id, created_at, request_id: written per line),
    then an actor entry, then an event entry ending in the latency and tail.
    """

    def __init__(self) -> None:
        rng = PoolRandom(_POOL_SEED)
        self.actors = Pool.of([_actor(rng) for _ in range(_N_ACTORS)])
        events: list[bytes] = []
        latency_offset: list[int] = []
        latency_digits: list[int] = []
        for _ in range(_N_EVENTS):
            kind, data = _event(rng)
            body = json.dumps(
                {"type": kind, "data": data}, ensure_ascii=rng.below(100) < 15, separators=(",", ":")
            )
            head = body[1:-1].encode() + b',"latency_ms":'
            digits = rng.weighted(((1, 10), (2, 45), (3, 40), (4, 5)))
            events.append(head + b"0" * digits + _TAIL)
            latency_offset.append(len(head))
            latency_digits.append(digits)
        self.events = Pool.of(events)
        self.latency_offset = np.array(latency_offset, dtype=np.int64)
        self.latency_digits = np.array(latency_digits, dtype=np.uint64)
        self.latency_low = u64(10) ** (self.latency_digits - u64(1))
        self.latency_span = self.latency_low * u64(9)
        self.latency_tail = np.array(
            [le_word(_TAIL[: 8 - d]) << (8 * d) for d in latency_digits], dtype=np.uint64
        )


@cache
def ndjson_pools() -> _NdjsonPools:
    return _NdjsonPools()


_MILLIS = le_words([f".{i:03d}".encode() for i in range(1000)])
_Z = u64(ord("Z"))
_ID_AT = len(b'{"id":')
_TS_GAP = b',"created_at":"'
_UUID_GAP = b'","request_id":"'


def _prefix(id_width: int) -> bytes:
    return b'{"id":' + b"0" * id_width + _TS_GAP + b"0000-00-00T00:00:00.000Z" + _UUID_GAP + b"0" * 36 + b'",'


class _NdjsonStream:
    """Per-call state: the bit generator, the next id and the clock."""

    def __init__(self, seed: int) -> None:
        self.pools = ndjson_pools()
        self.bits = np.random.PCG64(seed)
        self.next_id = 1
        self.clock_millis = _START_MILLIS

    def batch(self, n_rows: int) -> RowBatch:
        pools = self.pools
        ids = u64(self.next_id) + np.arange(n_rows, dtype=np.uint64)
        id_width, n_rows = first_width_run(ids)
        ids = ids[:n_rows]
        self.next_id += n_rows
        # Word 0: actor (high 32 bits), latency (low 32). Word 1: event (high
        # 32), time step (low byte). Then two words of uuid.
        raw = self.bits.random_raw(2 * n_rows).reshape(2, n_rows)
        uuid_raw = self.bits.random_raw(2 * n_rows).reshape(n_rows, 2)
        actor = below(raw[0], _N_ACTORS)
        event = below(raw[1], _N_EVENTS)

        # A busy API: 0-31 ms between events.
        millis = u64(self.clock_millis) + np.cumsum(raw[1] & u64(31))
        self.clock_millis = int(millis[-1])
        seconds = millis // u64(1000)
        days = (seconds // u64(86_400)).astype(np.int64)
        time_words = TIME_OF_DAY[(seconds % u64(86_400)).astype(np.intp)]
        millis_words = _MILLIS[(millis - seconds * u64(1000)).astype(np.intp)]
        date_words, day_of_month_words = day_words(days, (iso_date_head, iso_date_tail))

        latency = pools.latency_low[event] + below_lo(raw[0], pools.latency_span[event])
        latency_word = left_digits(latency, pools.latency_digits[event]) | pools.latency_tail[event]

        ts_at = _ID_AT + id_width + len(_TS_GAP)
        uuid_at = ts_at + 24 + len(_UUID_GAP)
        prefix = _prefix(id_width)
        writes = integer_writes(ids, id_width, _ID_AT, after=_TS_GAP)
        writes += [
            Write(ts_at, date_words),  # "2024-03-"
            Write(ts_at, day_of_month_words | (time_words << u64(24)), 8),  # "10T06:25"
            # ":00.017Z"
            Write(ts_at, (time_words >> u64(40)) | (millis_words << u64(24)) | (_Z << u64(56)), 16),
        ]
        writes += uuid4_writes(uuid_raw, uuid_at)
        latency_at = pools.actors.lengths[actor] + pools.latency_offset[event] + len(prefix)
        writes.append(Write(latency_at, latency_word))
        return RowBatch(
            pools=[pools.actors, pools.events],
            indices=[actor, event],
            writes=writes,
            row_prefix=prefix,
        )


class NdjsonGenerator:
    kind = "ndjson"
    version = 1
    extension = "ndjson"
    media_type = "application/x-ndjson"
    summary = "API event stream: nested JSON, unicode and escapes, one object per line"

    def blocks(self, size_bytes: int, seed: int) -> Iterator[Block]:
        return self.blocks_with_cuts(size_bytes, seed, ())

    def blocks_with_cuts(self, size_bytes: int, seed: int, smaller_sizes: Sequence[int]) -> Iterator[Block]:
        stream = _NdjsonStream(seed)
        return stream_blocks(size_bytes, b"", stream.batch, ROWS_PER_BLOCK, smaller_sizes)
