"""The built site in a real browser: Debian's headless Chromium, driven by selenium.

Every page, at desktop width and at 390 px (a phone): no console errors, every
Mermaid diagram rendered to an SVG (not an error diagram), every diagram label
drawn at 11 px or more at desktop width (a wide diagram is shrunk to fit the
page, and its labels with it), no code hidden under the copy button or cut off
at the right. Search finds each lab step by its
title. Screenshots (full pages, light and dark, and each diagram) and the
smallest label size of each diagram (label-sizes-*.txt) are saved under
tests/artifacts/browser/ (or $LABCHECK_ARTIFACTS/browser/).
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from labcheck.loader import all_labs
from tests.conftest import REPO, missing_tool

pytestmark = pytest.mark.slow

INSTALL = "sudo apt-get install -y chromium chromium-driver"
ARTIFACTS = Path(os.environ.get("LABCHECK_ARTIFACTS") or REPO / "tests" / "artifacts") / "browser"
WIDTHS = {"desktop": 1280, "phone": 390}
PAGES = ["", "install/", *[f"labs/{lab.slug}/" for lab in all_labs()]]

# material renders each diagram into a closed shadow root; open it so the test can see the SVG.
OPEN_SHADOW_ROOTS = ("const attach = Element.prototype.attachShadow;"
                     "Element.prototype.attachShadow = function (init) { return attach.call(this, {...init, mode: 'open'}); };")

DIAGRAMS = """
return [...document.querySelectorAll('div.mermaid, pre.mermaid')].map(el => {
  const svg = el.shadowRoot && el.shadowRoot.querySelector('svg');
  if (!svg) return {rendered: false};
  const box = svg.getBoundingClientRect();
  return {rendered: true, kind: svg.getAttribute('aria-roledescription'), width: box.width, height: box.height,
          text: svg.textContent.slice(0, 80)};
});
"""

# The size each diagram's labels are drawn at on screen: the CSS font size times the scale the SVG is drawn at.
MIN_LABEL_PX = 11
LABEL_SIZES = """
return [...document.querySelectorAll('div.mermaid, pre.mermaid')].map(el => {
  const svg = el.shadowRoot && el.shadowRoot.querySelector('svg');
  let px = Infinity, text = '';
  const walker = document.createTreeWalker(svg, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode, parent = node.parentElement;
    const holder = parent.closest('foreignObject, text');
    if (!node.data.trim() || !holder || parent.closest('style')) continue;
    const ctm = holder.getScreenCTM();
    const size = parseFloat(getComputedStyle(parent).fontSize) * Math.hypot(ctm.a, ctm.b);
    if (size < px) { px = size; text = node.data.trim(); }
  }
  return {px: Math.round(px * 10) / 10, text: text.slice(0, 60)};
});
"""

# Each visible code block: does any of its text sit under the copy button, or beyond its right edge?
HIDDEN_CODE = """
const overlaps = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
const problems = [];
for (const pre of document.querySelectorAll('pre')) {
  const code = pre.querySelector('code'), nav = pre.querySelector('.md-code__nav');
  if (!code || !nav || !code.getClientRects().length) continue;
  const button = nav.getBoundingClientRect();
  const first = code.textContent.trim().split('\\n')[0].slice(0, 70);
  if (code.scrollWidth > code.clientWidth + 1) problems.push(`scrolls sideways: ${first}`);
  const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  let hidden = null;
  while (!hidden && walker.nextNode()) {
    const node = walker.currentNode;
    for (let i = 0; i < node.length && !hidden; i++) {
      if (!node.data[i].trim()) continue;
      range.setStart(node, i); range.setEnd(node, i + 1);
      if ([...range.getClientRects()].some(r => overlaps(r, button))) hidden = node.data.trim().slice(0, 70);
    }
  }
  if (hidden) problems.push(`under the copy button: ${hidden}`);
}
return problems;
"""


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@pytest.fixture(scope="module")
def chromium():
    found = _chromium()
    if found is None:
        missing_tool(f"chromium and chromium-driver are not installed: {INSTALL}", "LABCHECK_BROWSER_REQUIRED")
    return found


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built strictly and served on a loopback port (search needs http, not file://)."""
    out = tmp_path_factory.mktemp("site")
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", str(REPO / "mkdocs.yml"),
                           "--site-dir", str(out)], capture_output=True, text=True,
                          env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    assert done.returncode == 0, done.stderr[-2000:]

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def browser(chromium):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    binary, driver = chromium
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--hide-scrollbars",
                "--window-size=1280,900"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(service=Service(driver), options=options)
    chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": OPEN_SHADOW_ROOTS})
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    yield chrome
    chrome.quit()


def _wait(predicate, timeout=20.0, step=0.25):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(step)


def _load(browser, url: str, width: int) -> list[dict]:
    browser.set_window_size(width, 900)
    browser.get_log("browser")  # drop what an earlier page logged
    browser.get(url)

    def rendered():
        diagrams = browser.execute_script(DIAGRAMS)
        return (diagrams,) if all(d["rendered"] for d in diagrams) else None

    done = _wait(rendered)
    return done[0] if done else browser.execute_script(DIAGRAMS)


def _name(page: str) -> str:
    return page.strip("/").replace("/", "-") or "home"


def _screenshots(browser, folder: Path, form: str, scheme: str, width: int) -> None:
    """The whole page, then each diagram, in a window as tall as the page (nothing under the header)."""
    from selenium.webdriver.common.by import By

    height = browser.execute_script("return document.documentElement.scrollHeight")
    browser.set_window_size(width, min(height, 16000))
    time.sleep(0.3)
    browser.save_screenshot(str(folder / f"{form}-{scheme}.png"))
    for number, element in enumerate(browser.find_elements(By.CSS_SELECTOR, "div.mermaid"), 1):
        element.screenshot(str(folder / f"diagram{number}-{form}-{scheme}.png"))
    browser.set_window_size(width, 900)


@pytest.mark.parametrize("form", list(WIDTHS))
@pytest.mark.parametrize("page", PAGES, ids=lambda p: _name(p))
def test_page_renders_cleanly(site, browser, page, form):
    width = WIDTHS[form]
    diagrams = _load(browser, site + page, width)

    viewport, content = browser.execute_script(
        "return [document.documentElement.clientWidth, document.documentElement.scrollWidth]")
    assert viewport <= width and content <= viewport, f"the page is {content} px wide in a {viewport} px window"

    errors = [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]
    assert errors == [], f"console errors on {page or 'home'}"

    assert all(d["rendered"] for d in diagrams), f"a diagram did not render to SVG: {diagrams}"
    assert not [d for d in diagrams if d["kind"] == "error"], f"a diagram has a syntax error: {diagrams}"
    assert all(d["width"] > 100 and d["height"] > 50 for d in diagrams), f"a diagram has no size: {diagrams}"
    if page.startswith("labs/01-"):
        assert len(diagrams) >= 3, "lab 01 shows the Pod's namespace, the shared volume and the sandbox"

    shots = ARTIFACTS / _name(page)
    shots.mkdir(parents=True, exist_ok=True)
    labels = browser.execute_script(LABEL_SIZES)
    (shots / f"label-sizes-{form}.txt").write_text(
        "".join(f"diagram {n}: {d['px']} px ({d['text']})\n" for n, d in enumerate(labels, 1)))
    if form == "desktop":
        small = [f"diagram {n}: {d['px']} px ({d['text']!r})" for n, d in enumerate(labels, 1) if d["px"] < MIN_LABEL_PX]
        assert small == [], f"labels smaller than {MIN_LABEL_PX} px at {width} px: the diagram is too wide: {small}"

    # Folded boxes (the PASS/FAIL examples) count too: open them all.
    browser.execute_script("document.querySelectorAll('details').forEach(d => d.open = true)")
    assert browser.execute_script(HIDDEN_CODE) == []

    schemes = ("default", "slate") if form == "desktop" else ("default",)
    for scheme in schemes:
        browser.execute_script(f"document.body.setAttribute('data-md-color-scheme', '{scheme}')")
        _screenshots(browser, shots, form, scheme, width)


def test_label_sizes_shrink_with_a_diagram_too_wide_for_the_page(site, browser):
    # A diagram wider than the page is drawn smaller: squeezing one into 200 px shows the measure sees it.
    page = f"labs/{all_labs()[0].slug}/"
    _load(browser, site + page, WIDTHS["desktop"])
    before = browser.execute_script(LABEL_SIZES)[0]["px"]
    browser.execute_script("document.querySelector('div.mermaid').style.width = '200px'")
    after = _wait(lambda: [d["px"] for d in browser.execute_script(LABEL_SIZES) if d["px"] < MIN_LABEL_PX])
    assert before >= MIN_LABEL_PX and after, f"{before} px, then {after} in 200 px"


@pytest.mark.parametrize("lab", all_labs(), ids=lambda lab: lab.slug)
def test_search_finds_each_step(site, browser, lab):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    _load(browser, site, WIDTHS["desktop"])
    box = browser.find_element(By.CSS_SELECTOR, "input[data-md-component=search-query]")
    for step in lab.steps:
        browser.execute_script("arguments[0].focus()", box)
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(step.title)
        page, anchor = f"/labs/{lab.slug}/", f"#step-{step.id}"  # hrefs look like /labs/x/?h=words#step-y
        found = _wait(lambda: [a for a in browser.execute_script(
            "return [...document.querySelectorAll('.md-search-result a')].map(a => a.href)")
            if page in a and a.endswith(anchor)])
        assert found, f"searching {step.title!r} does not find {page}{anchor}"
    browser.save_screenshot(str(ARTIFACTS / f"search-{lab.slug}.png"))
