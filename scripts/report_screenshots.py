"""Screenshots of the shipped report for docs/, and the phone measurements of issue 29.

Makes, in headless Chromium (chromedriver + selenium, the test extra), PNGs of page 1 of the all-sites report
and of its comparison of sites, at 1280 px and at 390 px wide, into docs/screenshots/; and prints the
smallest chart text a reader sees at 390 px (each chart's smallest SVG font size times the scale it is drawn
at). Regenerate after `make report`:

    .venv/bin/python scripts/report_screenshots.py [reports] [docs/screenshots]
"""

from __future__ import annotations

import base64
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHOTS = (("page1", "main"), ("at_a_glance", "summary"), ("site_comparison", "sites"))
WIDTHS = (1280, 390)
HEIGHT = 1000


def _driver():
    import shutil

    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--force-device-scale-factor=1"):
        opts.add_argument(arg)
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if browser:
        opts.binary_location = browser
    driver = shutil.which("chromedriver")  # the installed one: selenium's own manager would go to the network
    return webdriver.Chrome(options=opts, service=Service(driver) if driver else None)


def _size(driver, width: int) -> None:
    """The viewport (not the window) ``width`` x HEIGHT CSS px."""
    driver.set_window_size(width, HEIGHT)
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * HEIGHT - inner[1])


def smallest_chart_text(driver) -> tuple[float, str]:
    """The smallest chart text on the page as drawn now (CSS px) and the chart it is in."""
    found = []
    for alt, src, shown in driver.execute_script(
            "return [...document.querySelectorAll('img')].map(i => [i.alt, i.src, i.getBoundingClientRect().width])"):
        if not src.startswith("data:image/svg+xml;base64,"):
            continue
        svg = base64.b64decode(src.split(",", 1)[1]).decode("utf-8", "replace")
        width = re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg)
        sizes = [float(x) for x in re.findall(r"font(?:-size)?:\s*(?:[a-z]+ )*([\d.]+)px", svg)]
        if width and sizes and shown:
            found.append((min(sizes) * shown / float(width.group(1)), alt[:60]))
    return min(found) if found else (float("nan"), "")


def main(reports: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    driver = _driver()
    try:
        for width in WIDTHS:
            _size(driver, width)
            driver.get((reports / "report_all_sites.html").resolve().as_uri())
            for name, anchor in SHOTS:
                driver.execute_script(f"document.getElementById('{anchor}').scrollIntoView()")
                driver.save_screenshot(str(out / f"{name}_{width}px.png"))
            px, chart = smallest_chart_text(driver)
            print(f"{width} px: smallest chart text {px:.1f} px ({chart})")
            wide = driver.execute_script("return document.documentElement.scrollWidth")
            print(f"{width} px: page width {wide} px (wider than the screen: {wide > width})")
    finally:
        driver.quit()
    for p in sorted(out.glob("*.png")):
        print(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p)


if __name__ == "__main__":
    args = sys.argv[1:]
    main(Path(args[0]) if args else ROOT / "reports", Path(args[1]) if len(args) > 1 else ROOT / "docs" / "screenshots")
