"""URLs of Relance. CONTRACT.md lists the public ones."""

from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from campaigns.customer import opt_out, stock_confirm
from campaigns.customer import views as customer
from optin.pages import confirm_link, hosted
from retargeting import views
from retargeting.demoshop import views as demoshop
from retargeting.gateways import registry as providers
from retargeting.platforms import views as platforms
from retargeting.sites.login_throttle import ThrottledAuthenticationForm
from retargeting.tracking import openapi
from retargeting.tracking import views as tracking

# The dashboard logs in through the admin's login page: one form, throttled.
admin.site.login_form = ThrottledAuthenticationForm
admin.site.site_header = admin.site.site_title = "Relance"

urlpatterns = [
    path("", views.landing, name="landing"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("t.js", tracking.snippet, name="snippet"),
    path("t/a/<str:platform>.js", tracking.platform_reader, name="platform-reader"),
    path("t/email-cart.js", tracking.email_cart_form, name="email-cart-form"),
    path("t/e", tracking.collect, name="collect"),
    path("t/p.gif", tracking.pixel, name="pixel"),
    path("t/cart", tracking.restore_cart, name="restore-cart"),
    path("api/v1/identify", tracking.api_identify, name="api-identify"),
    path("api/v1/purchases", tracking.api_purchases, name="api-purchases"),
    path("api/v1/carts", tracking.api_carts, name="api-carts"),
    path("api/v1/products", tracking.api_products, name="api-products"),
    path("api/v1/orders", tracking.api_orders, name="api-orders"),
    path("api/v1/back_in_stock", tracking.api_back_in_stock, name="api-back-in-stock"),
    path("api/schema", openapi.schema_view, name="api-schema"),
    # Every provider's webhooks (and the outboxes' /dev/phone/ and /dev/mail/), from the registry.
    *providers.webhook_urlpatterns(),
    re_path(
        r"^webhooks/(?P<platform>shopify|woocommerce)/(?P<token>[A-Za-z0-9_-]{16,64})$",
        platforms.webhook,
        name="platform-webhook",
    ),
    path("s/<str:code>", customer.follow, name="short-link"),
    path("u/<str:code>", opt_out.opt_out_page, name="opt-out-link"),
    path("b/<str:code>", stock_confirm.confirm_page, name="stock-request-confirm"),
    path("o/c/<str:code>", confirm_link.confirm_page, name="optin-confirm"),
    path("o/e/<str:code>", confirm_link.confirm_email_page, name="optin-confirm-email"),
    path("o/<str:public_key>/", hosted.optin_page, name="optin-page"),
    path("dashboard/", include("campaigns.dashboard.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("demo/shop/", demoshop.shop, name="demo-shop"),
    path("demo/shop/p/<str:sku>/", demoshop.product, name="demo-product"),
    path("demo/shop/p/<str:sku>/stock/", demoshop.stock, name="demo-stock"),
    path("demo/shop/panier/", demoshop.cart, name="demo-cart"),
    path("demo/shop/merci/", demoshop.thanks, name="demo-thanks"),
]
if settings.BENCHMARK_ENDPOINTS:
    urlpatterns.append(path("bench/noop", views.noop, name="bench-noop"))
