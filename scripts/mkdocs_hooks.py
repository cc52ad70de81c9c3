"""MkDocs hook (mkdocs.yml `hooks:`): the site must load nothing from the internet.

Material's offline plugin adds a polyfill from a CDN (iframe-worker, which lets the search
worker start from file:// in Chromium). Served over HTTP, or opened in Firefox, search works
without it; from file:// in Chromium, search is off and everything else works. Hooks run
after the plugins listed in mkdocs.yml, so the URL is dropped after the plugin added it.
"""

from __future__ import annotations

from typing import Any


def on_config(config: Any) -> Any:
    polyfills = config.extra.get("polyfills", [])
    config.extra["polyfills"] = [url for url in polyfills if "://" not in url]
    return config
