"""Regenerate the report screenshots in ``docs/`` from a report folder.

    python docs/screenshots.py REPORT_FOLDER [--out docs] [--derivation sgd.finite-set]

writes, from ``REPORT_FOLDER/report.html`` and ``REPORT_FOLDER/report.pdf``:

- ``report-derivation.png``: one derivation block (by default ``sgd.finite-set``, the widest),
  clipped to it (its first 2400 px), rendered in headless Chromium at a 1400 px wide window;
- ``report-figure.png``: the first figure, clipped to it;
- ``report-pdf-page.png``: the PDF page where that derivation starts (``pdftoppm`` from poppler-utils;
  without it the PDF shot is skipped with a message, never taken through Chromium's printing).

It needs the Python package ``playwright`` (its driver only: no browser download) and the system
Chromium (``chromium`` on PATH). The report's CSP forbids page scripts; every measurement here is
made from the driver side.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import unicodedata
from pathlib import Path

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def html_shots(page: Path, out: Path, derivation: str, width: int = 1400, max_height: int = 2400) -> list[Path]:
    """The derivation and figure screenshots of ``page`` (a report.html), clipped to their element
    (the derivation to its first ``max_height`` px)."""
    from playwright.sync_api import sync_playwright

    written = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        try:
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.goto(page.resolve().as_uri())
            block = tab.locator(f"#derivation-{_anchor(derivation)}")
            if block.count():
                box = block.bounding_box()  # clipped to the block, and to its first max_height px
                tab.screenshot(path=str(out / "report-derivation.png"), full_page=True,
                               clip={"x": box["x"], "y": box["y"], "width": box["width"],
                                     "height": min(box["height"], max_height)})
                written.append(out / "report-derivation.png")
            else:
                print(f"no derivation {derivation!r} in {page}: report-derivation.png not written", file=sys.stderr)
            figure = tab.locator("figure").first
            if tab.locator("figure").count():
                figure.screenshot(path=str(out / "report-figure.png"))
                written.append(out / "report-figure.png")
            else:
                print(f"no figure in {page}: report-figure.png not written", file=sys.stderr)
        finally:
            browser.close()
    return written


def pdf_page_shot(pdf: Path, out: Path, derivation: str) -> Path | None:
    """The PDF page on which ``derivation``'s section starts, as a PNG (``pdftoppm``, 110 dpi)."""
    if shutil.which("pdftoppm") is None or shutil.which("pdftotext") is None:
        print("pdftoppm/pdftotext (poppler-utils) missing: report-pdf-page.png not written", file=sys.stderr)
        return None
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    pages = [unicodedata.normalize("NFKC", pg) for pg in text.split("\f")]
    # the OT1 fonts of the old report extract the fi/fl ligatures as a control character
    name = re.escape(derivation).replace("fi", ".{0,2}").replace("fl", ".{0,2}")
    # the section heading ("N.M sgd.finite-set"), not the table of contents' line (dotted leaders)
    number = next((k + 1 for k, pg in enumerate(pages)
                   if re.search(rf"^\s*\d+\.\d+\s+{name}\s*$", pg, re.M)), 1)
    with tempfile.TemporaryDirectory() as tmp:
        stem = Path(tmp) / "page"
        subprocess.run(["pdftoppm", "-png", "-r", "110", "-f", str(number), "-l", str(number), "-singlefile",
                        str(pdf), str(stem)], check=True)
        target = out / "report-pdf-page.png"
        shutil.copyfile(stem.with_suffix(".png"), target)
    return target


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("folder", type=Path, help="a report folder (l2l report --format md,html,tex)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent, help="where the PNGs go")
    ap.add_argument("--derivation", default="sgd.finite-set", help="the derivation to show")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    written = html_shots(args.folder / "report.html", args.out, args.derivation)
    pdf = args.folder / "report.pdf"
    if pdf.is_file():
        shot = pdf_page_shot(pdf, args.out, args.derivation)
        if shot is not None:
            written.append(shot)
    else:
        print(f"{pdf} missing: report-pdf-page.png not written", file=sys.stderr)
    for path in written:
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
