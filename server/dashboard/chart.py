"""A horizontal bar chart as inline SVG, drawn on the server (no script, no chart library)."""
from __future__ import annotations

from markupsafe import Markup, escape

ROW, LABEL_W, BAR_W, VALUE_W = 28, 170, 290, 80


def bars(items: list[tuple[str, int]], title: str, unit: str = "") -> Markup:
    """One bar per (label, value); the longest bar is the largest value.  Scales with its container (viewBox)."""
    if not items:
        return Markup("")
    top = max(v for _, v in items) or 1
    width, height = LABEL_W + BAR_W + VALUE_W, ROW * len(items) + 8
    parts = [f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
             f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>']
    for i, (label, value) in enumerate(items):
        y = 4 + i * ROW
        length = round(BAR_W * value / top) if value > 0 else 0
        parts.append(f'<text x="{LABEL_W - 8}" y="{y + 18}" text-anchor="end" class="chart-label">'
                     f'{escape(label)}</text>')
        parts.append(f'<rect x="{LABEL_W}" y="{y + 4}" width="{max(length, 1)}" height="{ROW - 10}" rx="3" '
                     'class="chart-bar"/>')
        parts.append(f'<text x="{LABEL_W + length + 6}" y="{y + 18}" class="chart-value">'
                     f'{value:,}{escape(unit)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
