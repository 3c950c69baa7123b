"""The Allure HTML report, when the Allure 3 CLI is installed — never required.

    npm install -g allure        # or: npx allure ...
    npx allure generate reports/<run-id>/allure-results --config allurerc.json

with `plugins.awesome.options.singleFile: true` in the config, which is what this module does.
Allure 3's page embeds a Google Tag Manager script that calls out when the page is opened; a
report of an internal game day must not, so it is stripped here and the result checked.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from gameday.errors import GamedayError

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>", re.IGNORECASE | re.DOTALL)
_NOSCRIPT = re.compile(r"<noscript\b[^>]*>.*?</noscript\s*>", re.IGNORECASE | re.DOTALL)
_LINK = re.compile(r"<link\b[^>]*>", re.IGNORECASE)
_TRACKERS = ("googletagmanager", "google-analytics", "gtag(", "datalayer")
TIMEOUT_S = 120.0


class AllureReportError(GamedayError):
    """The Allure CLI failed, or its page still calls out after stripping."""


def strip_tag_manager(page: str) -> str:
    """The page without Google Tag Manager / Analytics scripts, noscript iframes and
    preconnect links; raises if a tracker reference survives (better no report than one that
    phones out)."""
    def drop(match: re.Match[str]) -> str:
        return "" if any(t in match.group(0).lower() for t in _TRACKERS) else match.group(0)

    cleaned = _LINK.sub(drop, _NOSCRIPT.sub(drop, _SCRIPT.sub(drop, page)))
    if "googletagmanager" in cleaned.lower():
        raise AllureReportError("the Allure page still references googletagmanager after "
                                "stripping its scripts: do not publish it; report the Allure "
                                "version to the gameday maintainers")
    return cleaned


def generate_allure_html(results: Path, out_dir: Path, name: str) -> Path | None:
    """`<out_dir>/index.html` from allure-results, single-file and stripped; None when the
    `allure` command is not installed."""
    allure = shutil.which("allure")
    if allure is None or not results.is_dir():
        return None
    out_dir.mkdir(parents=True, exist_ok=True)
    config = out_dir / "allurerc.json"
    config.write_text(json.dumps({"name": name, "output": str(out_dir),
                                  "plugins": {"awesome": {"options": {"singleFile": True}}}}))
    try:
        done = subprocess.run([allure, "generate", str(results), "--config", str(config),
                               "--output", str(out_dir)], capture_output=True, text=True,
                              timeout=TIMEOUT_S, cwd=out_dir, check=False)
    except subprocess.TimeoutExpired as exc:
        raise AllureReportError(f"`allure generate` took over {TIMEOUT_S:g}s; the results "
                                f"stay in {results}") from exc
    page = out_dir / "index.html"
    if done.returncode != 0 or not page.is_file():
        raise AllureReportError(f"`allure generate {results}` failed ({done.returncode}): "
                                f"{(done.stderr or done.stdout)[-800:]}")
    for html in out_dir.rglob("*.html"):
        html.write_text(strip_tag_manager(html.read_text(errors="replace")))
    return page
