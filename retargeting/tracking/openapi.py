"""The OpenAPI 3 description of the collector and the shop's server API (``/api/schema``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse

from retargeting.tracking import catalog, schema, server_orders
from retargeting.tracking.models import VISITOR_ID_JSON_PATTERN, VISITOR_ID_MAX, VISITOR_ID_MIN

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
_AMOUNT = {
    "oneOf": [
        {"type": "number", "minimum": 0, "maximum": 9999999999.99},
        {"type": "string", "pattern": r"^\s*[0-9]{1,10}(\.[0-9]+)?\s*$", "example": "59.90"},
    ],
    "description": "A number, or its digits in a string (a dot before the decimals).",
}


def _id(max_length: int) -> dict[str, Any]:
    """A shop's id of something: a string of at most ``max_length`` (its column's), or a
    whole number."""
    return {
        "oneOf": [
            {"type": "string", "minLength": 1, "maxLength": max_length},
            {"type": "integer"},
        ],
        "description": "A string, or a whole number (stored as its digits).",
    }


_CURRENCY = {
    "type": "string",
    "pattern": "^[A-Za-z]{3}$",
    "maxLength": schema.CURRENCY_LENGTH,
    "example": "EUR",
}
_VID = {
    "type": "string",
    "pattern": VISITOR_ID_JSON_PATTERN,
    "minLength": VISITOR_ID_MIN,
    "maxLength": VISITOR_ID_MAX,
}
_SITE_KEY = {
    "type": "string",
    "pattern": f"^[A-Za-z0-9_-]{{1,{schema.SITE_KEY_LENGTH}}}$",
    "maxLength": schema.SITE_KEY_LENGTH,
}
_PHONE = {"type": "string", "maxLength": schema.PHONE_LENGTH}
_CONSENT = {
    "type": "object",
    "required": ["granted", "text"],
    "properties": {
        "granted": {"type": "boolean"},
        "text": {
            "type": "string",
            "maxLength": schema.CONSENT_TEXT_LENGTH,
            "description": "The exact wording shown.",
        },
        "source": {
            "type": "string",
            "maxLength": schema.CONSENT_SOURCE_LENGTH,
            "example": "checkout",
        },
    },
}
_LINK = {
    "type": "string",
    "format": "uri",
    "maxLength": schema.URL_LENGTH,
    "description": "An http(s) address on one of the site's domains (or a subdomain).",
}
_ITEM = {
    "type": "object",
    "required": ["sku", "name", "price", "quantity"],
    "properties": {
        "sku": _id(schema.SKU_LENGTH),
        "name": {"type": "string", "minLength": 1, "maxLength": schema.ITEM_NAME_LENGTH},
        "price": _AMOUNT,
        "quantity": {"type": "integer", "minimum": 1, "maximum": 10000},
        "url": _LINK,
        "image": {"type": "string", "format": "uri", "maxLength": schema.URL_LENGTH},
    },
}
_CART = {
    "type": "object",
    "required": ["id", "currency", "total", "items"],
    "properties": {
        "id": _id(schema.CART_ID_LENGTH),
        "currency": _CURRENCY,
        "total": _AMOUNT,
        "url": _LINK,
        "items": {"type": "array", "maxItems": 200, "items": _ITEM},
        "ref": {
            "type": "string",
            "maxLength": schema.CART_REF_LENGTH,
            "description": "What the shop's platform names the cart by in its orders "
            "(WooCommerce's cart hash); optional.",
        },
    },
}
_PRODUCT = {
    "type": "object",
    "required": ["id", "available"],
    "description": "A field left out keeps what Relance knew of the product.",
    "properties": {
        "id": _id(catalog.ID_LENGTH),
        "sku": _id(catalog.SKU_LENGTH),
        "name": {"type": "string", "maxLength": catalog.NAME_LENGTH},
        "url": _LINK,
        "image": {"type": "string", "format": "uri", "maxLength": catalog.IMAGE_LENGTH},
        "price": _AMOUNT,
        "currency": _CURRENCY,
        "available": {
            "type": "boolean",
            "description": "Whether it can be bought now. From false to true: back in stock.",
        },
        "quantity": {
            "type": "integer",
            "minimum": -catalog.QUANTITY_LIMIT,
            "maximum": catalog.QUANTITY_LIMIT,
            "description": "Units in stock (negative when oversold).",
        },
    },
}
_EMAIL = {
    "type": "string",
    "format": "email",
    "maxLength": schema.EMAIL_LENGTH,
    "example": "marie@example.fr",
    "description": "Checked and normalised as mail providers read it (email-validator); "
    "400 with the reason otherwise.",
}
_EVENTS = {
    "page_view": {
        "type": "object",
        "required": ["type", "url"],
        "properties": {
            "type": {"type": "string", "enum": ["page_view"]},
            "url": {"type": "string", "format": "uri", "maxLength": schema.URL_LENGTH},
            "title": {"type": "string", "maxLength": schema.TITLE_LENGTH},
        },
    },
    "cart": {
        "type": "object",
        "required": ["type", "cart"],
        "properties": {
            "type": {"type": "string", "enum": ["cart"]},
            "cart": _CART,
        },
    },
    "product_view": {
        "type": "object",
        "required": ["type", "product"],
        "description": "A product page seen: the product as the page shows it. Kept as the "
        "product's latest details and one view per browser, product and day (not as an "
        "event); the platform readers send it by themselves on product pages.",
        "properties": {
            "type": {"type": "string", "enum": ["product_view"]},
            "product": {
                "type": "object",
                "required": ["id", "name", "price", "currency", "url"],
                "properties": {
                    "id": _id(schema.PRODUCT_ID_LENGTH),
                    "sku": _id(schema.PRODUCT_SKU_LENGTH),
                    "name": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": schema.PRODUCT_NAME_LENGTH,
                    },
                    "price": _AMOUNT,
                    "currency": _CURRENCY,
                    "url": {
                        **_LINK,
                        "description": "The product's page: an http(s) address on one of the "
                        "site's domains (or a subdomain).",
                    },
                    "image": {"type": "string", "format": "uri", "maxLength": schema.URL_LENGTH},
                    "available": {
                        "type": "boolean",
                        "description": "What the page says; never dates a restock.",
                    },
                },
            },
        },
    },
    "identify": {
        "type": "object",
        "required": ["type"],
        "description": "Either `token` (from a short link), or `phone` with `consent` and/or "
        "`email` with `email_consent` (each address its own consent: SMS consent never implies "
        "email consent); at most one per request. From a page, a number must be of the site's "
        "countries, and a number or address the site already knows is a claim only; a new "
        "address with consent starts a double opt-in by email (docs/consent.md).",
        "properties": {
            "type": {"type": "string", "enum": ["identify"]},
            "phone": {
                "type": "string",
                "maxLength": schema.PHONE_LENGTH,
                "example": "06 12 34 56 78",
            },
            "first_name": {"type": "string", "maxLength": schema.FIRST_NAME_LENGTH},
            "consent": _CONSENT,
            "email": _EMAIL,
            "email_consent": _CONSENT,
            "token": {"type": "string", "maxLength": schema.TOKEN_LENGTH},
        },
    },
    "email_cart": {
        "type": "object",
        "required": ["type", "email"],
        "description": "The shopper asks for the browser's current cart by email, at once "
        "(the bridge): no marketing consent needed nor given; at most one per request. 204 "
        "whether or not the address is known; limited per browser, per address and per site "
        "and day (docs/install-snippet.md).",
        "properties": {
            "type": {"type": "string", "enum": ["email_cart"]},
            "email": {
                "type": "string",
                "format": "email",
                "maxLength": schema.EMAIL_LENGTH,
                "example": "marie@example.fr",
            },
        },
    },
    "back_in_stock": {
        "type": "object",
        "required": ["type", "product", "consent"],
        "description": "A shopper asks to be told once when a product returns, by SMS "
        "(`phone`) or by email (`email`): exactly one of the two, with the wording shown "
        "(`consent`, granted); at most one per request. For a number or address the browser "
        "has not proven its own, a confirmation (one SMS or email with a link) goes first, "
        "under the same daily limits as identify's; 204 whatever the address "
        "(docs/campaigns.md, Back in stock).",
        "properties": {
            "type": {"type": "string", "enum": ["back_in_stock"]},
            "product": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": _id(schema.PRODUCT_ID_LENGTH)},
            },
            "phone": {
                "type": "string",
                "maxLength": schema.PHONE_LENGTH,
                "example": "06 12 34 56 78",
            },
            "email": _EMAIL,
            "consent": _CONSENT,
        },
    },
    "purchase": {
        "type": "object",
        "required": ["type", "order_id", "total", "currency"],
        "properties": {
            "type": {"type": "string", "enum": ["purchase"]},
            "order_id": _id(schema.ORDER_ID_LENGTH),
            "total": _AMOUNT,
            "currency": _CURRENCY,
        },
    },
}


def _json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _recorded(properties: dict[str, Any]) -> dict[str, Any]:
    """A server API call's 200 answer: a JSON object with these properties."""
    return {
        "description": "Recorded",
        "content": {"application/json": {"schema": {"type": "object", "properties": properties}}},
    }


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed: the error names the field",
        401: "Missing or wrong secret key",
        403: "Unknown site key or origin not allowed",
        408: "The body stopped coming before its Content-Length",
        411: "A body sent in chunks (Transfer-Encoding): send a Content-Length",
        404: "No cart for this link (not genuine, another site's, or expired)",
        413: "Body over 64 KiB",
        429: "Over the rate limit",
    }
    return {
        str(code): {
            "description": text[code],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for code in codes
    }


def description() -> dict[str, Any]:
    described: dict[str, Any] = _optional_fields_nullable(_description())
    return described


def _description() -> dict[str, Any]:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Relance collector and shop server API", "version": "1"},
        "servers": [{"url": settings.PUBLIC_BASE_URL}],
        "components": {
            "schemas": {"Error": _ERROR, **{f"Event_{k}": v for k, v in _EVENTS.items()}},
            "securitySchemes": {"secretKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/t/e": {
                "post": {
                    "summary": "A batch of events from the snippet (sent as text/plain or JSON)",
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["site", "vid", "events"],
                            "properties": {
                                "site": _SITE_KEY,
                                "vid": _VID,
                                "events": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": 100,
                                    "items": {
                                        "oneOf": [
                                            {"$ref": f"#/components/schemas/Event_{k}"}
                                            for k in _EVENTS
                                        ]
                                    },
                                },
                            },
                        }
                    ),
                    "parameters": [
                        {
                            "name": "Origin",
                            "in": "header",
                            "required": False,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "204": {"description": "Stored"},
                        **_errors(400, 403, 408, 411, 413, 429),
                    },
                }
            },
            "/t/p.gif": {
                "get": {
                    "summary": "A page view from a pixel; always answers the GIF",
                    "parameters": [
                        {"name": n, "in": "query", "required": False, "schema": {"type": "string"}}
                        for n in ("site", "vid", "type", "url", "title")
                    ],
                    "responses": {
                        "200": {"description": "A 1x1 GIF", "content": {"image/gif": {}}}
                    },
                }
            },
            "/t/cart": {
                "get": {
                    "summary": "The cart a reminder's link names (its _rc token), for the "
                    "snippet's restore call: its items and total only",
                    "parameters": [
                        {"name": n, "in": "query", "required": True, "schema": {"type": "string"}}
                        for n in ("site", "token")
                    ],
                    "responses": {
                        "200": {
                            "description": "The cart, as the shop's cart call described it",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["cart"],
                                        "properties": {"cart": {"type": "object"}},
                                    }
                                }
                            },
                        },
                        **_errors(403, 404),
                    },
                }
            },
            "/api/v1/identify": {
                "post": {
                    "summary": "The shop's server identifies a customer who consented",
                    "description": "At least one of `phone` (then with `consent`, the SMS "
                    "consent) and `email` (with `email_consent`, its own).",
                    "security": [{"secretKey": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "anyOf": [
                                {"required": ["phone", "consent"]},
                                {"required": ["email"]},
                            ],
                            "properties": {
                                "phone": _PHONE,
                                "email": _EMAIL,
                                "email_consent": _CONSENT,
                                "first_name": {
                                    "type": "string",
                                    "maxLength": schema.FIRST_NAME_LENGTH,
                                },
                                "vid": _VID,
                                "consent": _CONSENT,
                            },
                        }
                    ),
                    "responses": {
                        "200": _recorded(
                            {
                                "ok": {"type": "boolean"},
                                "phone": {"type": "string", "nullable": True},
                                "email": {"type": "string"},
                                "vid": {"type": "string", "nullable": True},
                            }
                        ),
                        **_errors(400, 401, 411, 413),
                    },
                }
            },
            "/api/v1/carts": {
                "post": {
                    "summary": "A cart, from the shop's server or platform module, for a browser "
                    "(vid), the shop's own customer or guest id (customer_id) or a number (phone): "
                    "at least one. The snippet's cart rules apply.",
                    "security": [{"secretKey": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["cart"],
                            "properties": {
                                "cart": _CART,
                                "vid": _VID,
                                "customer_id": _id(schema.CUSTOMER_ID_LENGTH),
                                "phone": _PHONE,
                            },
                        }
                    ),
                    "responses": {
                        "200": _recorded(
                            {
                                "ok": {"type": "boolean"},
                                "vid": {"type": "string"},
                                "cart_id": {"type": "string"},
                                "cart_status": {
                                    "type": "string",
                                    "enum": ["open", "converted", "replaced"],
                                },
                            }
                        ),
                        **_errors(400, 401, 411, 413),
                    },
                }
            },
            "/api/v1/products": {
                "post": {
                    "summary": "The shop's server reports its products' stock; a product going "
                    "from unavailable to available starts its back-in-stock alerts. A batch is "
                    "stored or refused whole; each id once per request.",
                    "security": [{"secretKey": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["products"],
                            "properties": {
                                "products": {
                                    "type": "array",
                                    "minItems": 1,
                                    "maxItems": catalog.MAX_PRODUCTS,
                                    "items": _PRODUCT,
                                },
                            },
                        }
                    ),
                    "responses": {
                        "200": _recorded(
                            {"ok": {"type": "boolean"}, "updated": {"type": "integer"}}
                        ),
                        **_errors(400, 401, 411, 413),
                    },
                }
            },
            "/api/v1/back_in_stock": {
                "post": {
                    "summary": "A shopper's request to be told once when a product returns, "
                    "from the shop's server: by SMS (`phone`) or by email (`email`), exactly one; "
                    "confirmed at once (the shop vouches for the address).",
                    "security": [{"secretKey": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["product_id", "consent"],
                            "properties": {
                                "product_id": _id(schema.PRODUCT_ID_LENGTH),
                                "phone": _PHONE,
                                "email": _EMAIL,
                                "vid": _VID,
                                "consent": _CONSENT,
                            },
                        }
                    ),
                    "responses": {
                        "200": _recorded(
                            {
                                "ok": {"type": "boolean"},
                                "product_id": {"type": "string"},
                                "channel": {"type": "string", "enum": ["sms", "email"]},
                            }
                        ),
                        **_errors(400, 401, 411, 413),
                    },
                }
            },
            "/api/v1/purchases": {
                "post": {
                    "summary": "An order, from the shop's server (with a vid, a phone or both)",
                    "security": [{"secretKey": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["order_id", "total", "currency"],
                            "properties": {
                                "order_id": _id(schema.ORDER_ID_LENGTH),
                                "total": _AMOUNT,
                                "currency": _CURRENCY,
                                "vid": _VID,
                                "phone": _PHONE,
                            },
                        }
                    ),
                    "responses": {
                        "200": _recorded(
                            {
                                "ok": {"type": "boolean"},
                                "order_id": {"type": "string"},
                                "cart_converted": {"type": "boolean"},
                            }
                        ),
                        **_errors(400, 401, 411, 413),
                    },
                }
            },
            "/api/v1/orders": {
                "post": {
                    "summary": "An order's status, from the shop's server: starts the order's "
                    "own messages (confirmation, shipping) and, once delivered, the review "
                    "request. Idempotent per (order_id, status); a paid order is also the "
                    "purchase, as /api/v1/purchases records one (then `total` and `currency` "
                    "are required).",
                    "description": "`phone` and `email` are where the order's own messages go "
                    "(no marketing consent needed; never after a STOP). `tracking_url` (https) "
                    "is the carrier's page the shipping message may link to.",
                    "security": [{"secretKey": []}],
                    "requestBody": _json_body(
                        {
                            "type": "object",
                            "required": ["order_id", "status"],
                            "properties": {
                                "order_id": _id(schema.ORDER_ID_LENGTH),
                                "status": {
                                    "type": "string",
                                    "enum": list(server_orders.STATUSES),
                                },
                                "phone": _PHONE,
                                "email": _EMAIL,
                                "vid": _VID,
                                "customer_id": _id(schema.CUSTOMER_ID_LENGTH),
                                "total": _AMOUNT,
                                "currency": _CURRENCY,
                                "tracking_url": {
                                    "type": "string",
                                    "format": "uri",
                                    "maxLength": schema.URL_LENGTH,
                                    "description": "The carrier's tracking page (http(s); "
                                    "only an https one is linked to).",
                                },
                                "items": {
                                    "type": "array",
                                    "maxItems": server_orders.MAX_ORDER_ITEMS,
                                    "items": {
                                        "type": "object",
                                        "required": ["name"],
                                        "properties": {
                                            "id": _id(server_orders.PRODUCT_ID_LENGTH),
                                            "sku": _id(schema.SKU_LENGTH),
                                            "name": {
                                                "type": "string",
                                                "minLength": 1,
                                                "maxLength": schema.ITEM_NAME_LENGTH,
                                            },
                                            "price": _AMOUNT,
                                            "quantity": {
                                                "type": "integer",
                                                "minimum": 1,
                                                "maximum": 10000,
                                            },
                                            "url": _LINK,
                                            "image": {
                                                "type": "string",
                                                "format": "uri",
                                                "maxLength": schema.URL_LENGTH,
                                            },
                                        },
                                    },
                                },
                            },
                        }
                    ),
                    "responses": {
                        "200": _recorded(
                            {
                                "ok": {"type": "boolean"},
                                "order_id": {"type": "string"},
                                "status": {"type": "string"},
                            }
                        ),
                        **_errors(400, 401, 411, 413),
                    },
                }
            },
        },
    }


def _optional_fields_nullable(node: Any) -> Any:
    """Mark every optional property ``nullable``: a field sent as null is read as absent."""
    if isinstance(node, list):
        return [_optional_fields_nullable(child) for child in node]
    if not isinstance(node, dict):
        return node
    node = {key: _optional_fields_nullable(value) for key, value in node.items()}
    if node.get("type") == "object" and "properties" in node:
        required = set(node.get("required", ()))
        node["properties"] = {
            name: prop if name in required or "$ref" in prop else {**prop, "nullable": True}
            for name, prop in node["properties"].items()
        }
    return node


def schema_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(description())
