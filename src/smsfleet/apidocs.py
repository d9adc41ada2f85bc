"""The interactive API documentation, served from the package's own files.

Swagger UI (`/docs`, and `/swagger/` for those who look there) and ReDoc (`/redoc`)
load their scripts and styles from the `fastapi-offline` distribution, mounted at
`/docs/assets`, never from a CDN: they work on a closed network. ReDoc's script is
served from `/docs/redoc.js` without its maker's logo, which it would fetch from
cdn.redoc.ly. Each page has a
content policy of its own that allows this origin's files and, by their hash, the
page's own inline script and style blocks; nothing else.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import re
from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.responses import HTMLResponse, Response

__all__ = [
    "ASSETS_URL",
    "DOCS_PATHS",
    "assets_dir",
    "document_bodies",
    "mount_api_docs",
    "page_policy",
]

ASSETS_URL = "/docs/assets"
SWAGGER_URLS = ("/docs", "/swagger", "/swagger/")
REDOC_URL = "/redoc"
REDOC_JS_URL = "/docs/redoc.js"
# The sidebar's "API docs by Redocly" logo; an empty data URL fails to load, so ReDoc
# leaves the logo out (its `onError`) and keeps the link's text.
REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
NO_LOGO = "data:,"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
DOCS_PATHS = (*SWAGGER_URLS, REDOC_URL, OAUTH2_REDIRECT_URL)

_INLINE = {tag: re.compile(rf"<{tag}>(.*?)</{tag}>", re.DOTALL) for tag in ("script", "style")}


def assets_dir() -> Path:
    """The Swagger UI and ReDoc bundles the installed `fastapi-offline` ships."""
    return Path(str(files("fastapi_offline") / "static"))


def _hashes(html: str, tag: str) -> str:
    sources = _INLINE[tag].findall(html)
    return " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
        for s in sources
    )


def page_policy(html: str) -> str:
    """The content policy of one documentation page: its own origin, its own inline blocks.

    Swagger UI and ReDoc set styles from their scripts (and ReDoc adds `<style>`
    elements), so styles also allow inline ones; scripts never do.
    """
    scripts = " ".join(filter(None, ["'self'", _hashes(html, "script")]))
    return (
        f"default-src 'none'; script-src {scripts}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; font-src 'self'; worker-src blob:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


class _Script:
    """ReDoc's bundle with its logo, the one thing it fetches from elsewhere, left out.
    Named by its content (`url`), so a browser keeps it for good rather than fetching its
    megabyte on every visit; gzipped for a browser that takes it."""

    def __init__(self) -> None:
        bundle = (assets_dir() / "redoc.standalone.js").read_text(encoding="utf-8")
        self.body = bundle.replace(REDOC_LOGO, NO_LOGO).encode()
        self.gzipped = gzip.compress(self.body, mtime=0)
        self.version = hashlib.sha256(self.body).hexdigest()[:16]
        self.url = f"{REDOC_JS_URL}?v={self.version}"

    def __call__(self, request: Request) -> Response:
        # Kept for good only under its own name: another `v` may name another content.
        named = request.query_params.get("v") == self.version
        cache = "public, max-age=31536000, immutable" if named else "no-cache"
        headers = {"Cache-Control": cache, "Vary": "Accept-Encoding"}
        if _accepts_gzip(request.headers.get("accept-encoding", "")):
            headers["Content-Encoding"] = "gzip"
            body = self.gzipped
        else:
            body = self.body
        return Response(body, media_type="text/javascript; charset=utf-8", headers=headers)


def _accepts_gzip(accepted: str) -> bool:
    """Whether an Accept-Encoding takes gzip: named (or `*`) with a weight above 0."""
    for part in accepted.split(","):
        coding, *params = (piece.strip() for piece in part.split(";"))
        if coding.lower() in ("gzip", "*"):
            weights = [p.split("=", 1)[1] for p in params if p.replace(" ", "").startswith("q=")]
            try:
                return not weights or float(weights[0]) > 0
            except ValueError:
                return False
    return False


class _Page:
    """A page rendered once; every request gets a response of its own."""

    def __init__(self, rendered: HTMLResponse) -> None:
        self.html = bytes(rendered.body).decode()
        self.policy = page_policy(self.html)

    def __call__(self) -> HTMLResponse:
        return HTMLResponse(self.html, headers={"Content-Security-Policy": self.policy})


def mount_api_docs(app: FastAPI) -> None:
    """Add the documentation pages and their assets; `app` was made with `docs_url=None`
    and `redoc_url=None`. Call before any catch-all route."""
    openapi_url = app.openapi_url or "/openapi.json"
    favicon = f"{ASSETS_URL}/favicon.png"
    app.mount(ASSETS_URL, StaticFiles(directory=assets_dir()), name="api-docs-assets")
    swagger = _Page(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=favicon,
            oauth2_redirect_url=OAUTH2_REDIRECT_URL,
            swagger_ui_parameters=app.swagger_ui_parameters,
        )
    )
    script = _Script()
    redoc = _Page(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=script.url,
            redoc_favicon_url=favicon,
            with_google_fonts=False,
        )
    )
    redirect = _Page(get_swagger_ui_oauth2_redirect_html())
    app.add_api_route(
        REDOC_JS_URL,
        script,
        methods=["GET"],
        name="api-docs:redoc-script",
        include_in_schema=False,
        response_class=Response,
    )

    pages = [(url, swagger) for url in SWAGGER_URLS]
    pages += [(REDOC_URL, redoc), (OAUTH2_REDIRECT_URL, redirect)]
    for url, page in pages:
        app.add_api_route(
            url,
            page,
            methods=["GET"],
            name=f"api-docs:{url}",
            include_in_schema=False,
            response_class=HTMLResponse,
        )


def document_bodies(app: FastAPI, bodies: Sequence[type[BaseModel]]) -> None:
    """Put in the schema's components the bodies of the routes that read their body
    themselves (their `openapi_extra` refers to them there), as FastAPI puts those of
    the others."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()  # cached by FastAPI, and completed here once
            _, found = models_json_schema(
                [(body, "validation") for body in bodies],
                ref_template="#/components/schemas/{model}",
            )
            schema.setdefault("components", {}).setdefault("schemas", {}).update(
                found.get("$defs", {})
            )
        return app.openapi_schema or build()

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented hook
