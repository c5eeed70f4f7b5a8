"""Small storefronts of Shopify, WooCommerce and PrestaShop for the snippet's platform readers.

Each answers, through Playwright routes on the test's own origin, the front-end API its
platform documents, with the payloads of tests/fixtures/platforms/ (README.md there names the
documentation pages): the cart as the platform shapes it, the writes a theme makes, and for
WooCommerce the Store API's nonce. The pages that use them are written like a theme's.
"""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "platforms"


def fixture(name: str, shop: str = "") -> dict:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text.replace("SHOP", shop))


def _json(route, body, status=200, headers=None):
    route.fulfill(
        status=status,
        content_type="application/json; charset=utf-8",
        body=json.dumps(body),
        headers=headers or {},
    )


class Shopify:
    """The Ajax Cart API: GET /cart.js, POST /cart/add.js, /cart/change.js, /cart/clear.js."""

    CATALOGUE = {
        39897499729985: ("Health potion", "Health potion - S / Low", 2500),
        40000000000017: ("Mana potion", "Mana potion - M", 1995),
    }

    def __init__(self, origin: str):
        self.origin = origin
        self.lines: dict[int, int] = {}  # variant id: quantity
        self.reads = 0
        self.product_reads = 0

    def cart(self) -> dict:
        body = fixture("shopify/cart.json")
        items = []
        for variant, quantity in self.lines.items():
            product, title, price = self.CATALOGUE[variant]
            item = fixture("shopify/line_item.json")
            item.update(
                id=variant,
                variant_id=variant,
                key=f"{variant}:feedc0de",
                quantity=quantity,
                title=title,
                product_title=product,
                price=price,
                original_price=price,
                final_price=price,
                line_price=price * quantity,
                final_line_price=price * quantity,
                url=f"/products/{product.lower().replace(' ', '-')}?variant={variant}",
            )
            items.append(item)
        total = sum(item["final_line_price"] for item in items)
        body.update(
            items=items,
            item_count=sum(self.lines.values()),
            total_price=total,
            original_total_price=total,
            items_subtotal_price=total,
        )
        return body

    def matches(self, url: str) -> bool:
        path = urlsplit(url).path
        product = path.startswith("/products/") and path.endswith(".js")
        return url.startswith(self.origin) and (
            path == "/cart.js" or path.startswith("/cart/") or product
        )

    def handle(self, route) -> None:
        request = route.request
        path = urlsplit(request.url).path
        data = json.loads(request.post_data or "{}") if request.method == "POST" else {}
        if path.startswith("/products/"):
            # The Ajax Product API: GET /products/HANDLE.js (shopify/product.json).
            self.product_reads += 1
            product = fixture("shopify/product.json")
            if path == f"/products/{product['handle']}.js":
                return _json(route, product)
            return _json(route, {"status": 404, "message": "Not Found"}, status=404)
        if path == "/cart.js":
            self.reads += 1
            return _json(route, self.cart())
        if path == "/cart/add.js":
            for item in data.get("items", []):
                variant = int(item["id"])
                self.lines[variant] = self.lines.get(variant, 0) + int(item.get("quantity", 1))
            return _json(route, {"items": self.cart()["items"]})
        if path == "/cart/change.js":
            variant = int(str(data["id"]).split(":")[0])
            if int(data["quantity"]) == 0:
                self.lines.pop(variant, None)
            else:
                self.lines[variant] = int(data["quantity"])
            return _json(route, self.cart())
        if path == "/cart/clear.js":
            self.lines.clear()
            return _json(route, self.cart())
        return _json(route, {"status": 404, "message": "Not Found"}, status=404)

    def install(self, page) -> None:
        page.route(self.matches, self.handle)


class WooCommerce:
    """The Store API's cart: GET cart (with its Nonce header), POST cart/add-item,
    cart/update-item, cart/remove-item; writes without the nonce are refused as WooCommerce
    refuses them (401 woocommerce_rest_missing_nonce)."""

    NONCE = "25222b6f2b"
    CATALOGUE = {16: ("Beanie", "woo-beanie", 1800), 22: ("Écharpe", "", 2450)}

    def __init__(self, origin: str):
        self.origin = origin
        self.lines: dict[int, int] = {}  # product id: quantity
        self.adds: list[dict] = []
        self.reads = 0
        self.product_reads = 0

    def cart(self) -> dict:
        body = fixture("woocommerce/cart.json")
        items = []
        for product, quantity in self.lines.items():
            name, sku, price = self.CATALOGUE[product]
            item = fixture("woocommerce/cart_item.json")
            item.update(
                key=f"key{product}",
                id=product,
                quantity=quantity,
                name=name,
                sku=sku,
                permalink=f"{self.origin}/product/{product}/",
            )
            item["prices"].update(price=str(price), regular_price=str(price), sale_price=str(price))
            item["totals"].update(line_total=str(price * quantity))
            items.append(item)
        total = sum(int(item["totals"]["line_total"]) for item in items)
        body["items"] = items
        body["items_count"] = sum(self.lines.values())
        body["totals"].update(total_items=str(total), total_price=str(total))
        return body

    def cart_hash(self) -> str:
        return "hash-" + "-".join(f"{p}x{q}" for p, q in sorted(self.lines.items()))

    def matches(self, url: str) -> bool:
        return url.startswith(self.origin + "/wp-json/wc/store/v1/") or url.startswith(
            self.origin + "/?wc-ajax="
        )

    def classic_add(self, route) -> None:
        """The classic theme's AJAX add-to-cart button (``?wc-ajax=add_to_cart``)."""
        form = {k: v[0] for k, v in parse_qs(route.request.post_data or "").items()}
        product = int(form["product_id"])
        self.lines[product] = self.lines.get(product, 0) + int(form.get("quantity", 1))
        cookie = f"woocommerce_cart_hash={self.cart_hash()}; Path=/"
        body = {"fragments": {"div.widget_shopping_cart_content": "<div></div>"}}
        body["cart_hash"] = self.cart_hash()
        _json(route, body, headers={"Set-Cookie": cookie})

    def handle(self, route) -> None:
        request = route.request
        if "wc-ajax=add_to_cart" in request.url:
            return self.classic_add(route)
        path = urlsplit(request.url).path.removeprefix("/wp-json/wc/store/v1/")
        headers = {"Nonce": self.NONCE, "Cart-Token": "eyJ0eXAiOiJKV1QifQ.e30.sig"}
        if request.method == "GET" and path == "cart":
            self.reads += 1
            return _json(route, self.cart(), headers=headers)
        if request.method == "GET" and path.startswith("products/"):
            # The Store API's products/ID (woocommerce/product.json).
            self.product_reads += 1
            product = fixture("woocommerce/product.json", self.origin)
            if path == f"products/{product['id']}":
                return _json(route, product)
            return _json(
                route,
                {"code": "woocommerce_rest_product_invalid_id", "data": {"status": 404}},
                status=404,
            )
        if request.headers.get("nonce") != self.NONCE:
            return _json(
                route,
                {
                    "code": "woocommerce_rest_missing_nonce",
                    "message": "Missing the Nonce header. This endpoint requires a valid nonce.",
                    "data": {"status": 401},
                },
                status=401,
            )
        data = json.loads(request.post_data or "{}")
        if path == "cart/add-item":
            self.adds.append(data)
            product = int(data["id"])
            self.lines[product] = self.lines.get(product, 0) + int(data.get("quantity", 1))
        elif path == "cart/update-item":
            self.lines[int(data["key"].removeprefix("key"))] = int(data["quantity"])
        elif path == "cart/remove-item":
            self.lines.pop(int(data["key"].removeprefix("key")), None)
        else:
            return _json(route, {"code": "rest_no_route", "data": {"status": 404}}, status=404)
        # WooCommerce keeps its cart hash cookie up to date on every change.
        cookie = f"woocommerce_cart_hash={self.cart_hash()}; Path=/"
        return _json(route, self.cart(), status=201, headers={**headers, "Set-Cookie": cookie})

    def install(self, page) -> None:
        page.route(self.matches, self.handle)


class PrestaShop:
    """The front office's cart controller (POST /panier with ajax=1&action=update, add=1,
    delete=1), answering the presented cart as the theme's add-to-cart gets it; a write needs
    the page's static token."""

    CATALOGUE = {(1, 1): ("T-shirt imprimé colibri", 23.9), (7, 0): ("Mug The best is yet", 11.9)}

    def __init__(self, origin: str):
        self.origin = origin
        self.lines: dict[tuple[int, int], int] = {}
        self.adds: list[dict] = []

    def presented(self) -> dict:
        cart = fixture("prestashop/prestashop.json", self.origin)["cart"]
        products = []
        for (product, combination), quantity in self.lines.items():
            name, price = self.CATALOGUE[(product, combination)]
            line = fixture("prestashop/product.json", self.origin)
            line.update(
                id_product=str(product),
                id_product_attribute=str(combination),
                name=name,
                price_amount=price,
                quantity=quantity,
                url=f"{self.origin}/{product}-{combination}.html",
            )
            products.append(line)
        total = round(sum(p["price_amount"] * p["quantity"] for p in products), 2)
        cart["products"] = products
        cart["products_count"] = sum(self.lines.values())
        for key in cart["totals"]:
            cart["totals"][key]["amount"] = total
        return cart

    def prestashop(self) -> dict:
        body = fixture("prestashop/prestashop.json", self.origin)
        body["cart"] = self.presented()
        return body

    def matches(self, url: str) -> bool:
        return url.startswith(self.origin + "/panier")

    def handle(self, route) -> None:
        request = route.request
        form = {k: v[0] for k, v in parse_qs(request.post_data or "").items()}
        if request.method != "POST" or form.get("ajax") != "1" or form.get("action") != "update":
            return route.fulfill(status=200, content_type="text/html", body="<h1>Panier</h1>")
        token = fixture("prestashop/prestashop.json")["static_token"]
        key = (int(form.get("id_product", 0)), int(form.get("id_product_attribute", 0)))
        if "add" in form or "delete" in form:
            if form.get("token") != token:
                return _json(route, {"hasError": True, "errors": ["Invalid token"]})
            if "add" in form:
                self.adds.append(form)
                self.lines[key] = self.lines.get(key, 0) + int(form.get("qty", 1))
            else:
                self.lines.pop(key, None)
        return _json(
            route,
            {
                "success": True,
                "id_product": str(key[0]),
                "id_product_attribute": str(key[1]),
                "quantity": self.lines.get(key, 0),
                "cart": self.presented(),
                "errors": "",
            },
        )

    def install(self, page) -> None:
        page.route(self.matches, self.handle)
