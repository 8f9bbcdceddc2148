"""Screenshots of a report.html as a reader sees it: a desktop and a phone width.

    python benchmarks/report_screenshots.py results/report/report.html [--out shots]

Headless Chromium (`chromium`, `chromium-browser` or `google-chrome` on the PATH; on Debian
`apt-get install chromium`, not a dependency of sweep) shoots the whole page at each width;
the page is trimmed of the blank below it and cut into tiles short enough to read in an
image viewer: <out>/desktop-00.png, ..., <out>/phone-00.png, ... Without a browser it says
so and exits 0, so that a machine without one skips the check rather than fails it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
WIDTHS = {"desktop": 1400, "phone": 420}  # a laptop's browser window, a phone's width
TILE = {"desktop": 1800, "phone": 1400}  # pixels of page per tile
TALLEST = 64000  # the window the page is shot in doubles up to this height


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


def shoot(browser: str, page: Path, width: int, height: int, png: Path) -> None:
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",  # as root in a container
            "--disable-gpu",
            "--hide-scrollbars",
            f"--screenshot={png}",
            f"--window-size={width},{height}",
            page.resolve().as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,  # a guard against a hung browser, not a wait
    )


def whole_page(browser: str, page: Path, width: int, folder: Path):
    """The page at `width`, all of it: shot in a window that doubles until the page ends
    above its bottom, then trimmed of the white below the page."""
    from PIL import Image, ImageChops  # matplotlib's dependency: there with sweep

    height = 8000
    while True:
        png = folder / f"whole-{width}.png"
        shoot(browser, page, width, height, png)
        image = Image.open(png).convert("RGB")
        box = ImageChops.difference(image, Image.new("RGB", image.size, "white")).getbbox()
        bottom = box[3] if box else 0
        if bottom < height - 1 or height >= TALLEST:
            return image.crop((0, 0, width, min(height, bottom + 40)))
        height *= 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path, help="the report.html")
    parser.add_argument("--out", type=Path, default=Path("report-shots"))
    args = parser.parse_args(argv)
    browser = find_browser()
    if browser is None:
        print(f"skipped: no headless browser on the PATH ({', '.join(BROWSERS)})")
        return 0
    if not args.page.is_file():
        print(f"no such file: {args.page}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        for name, width in WIDTHS.items():
            image = whole_page(browser, args.page, width, Path(scratch))
            tiles = range(0, image.height, TILE[name])
            for i, top in enumerate(tiles):
                tile = image.crop((0, top, width, min(image.height, top + TILE[name])))
                tile.save(args.out / f"{name}-{i:02d}.png")
            print(f"{name} ({width} px): {image.height} px of page, {len(tiles)} tiles")
    print(f"in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
