"""The city's official seal (公印), drawn with reportlab: a red square with the seal text in vertical columns.

It is drawn once per PDF as a form XObject and placed where it is needed, so a page stays small and fast.
"""
from __future__ import annotations

from reportlab.lib.colors import Color
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

SEAL_RED = Color(0.80, 0.10, 0.12)
SEAL_SIZE = 21 * mm


def seal_text(city: str) -> str:
    """「架空市長之印」: the seal reads 〈city〉長之印; six characters fill a 3×2 grid nicely."""
    return f"{city}長之印"


def define_seal(canvas: Canvas, city: str, font: str, name: str = "city-seal") -> str:
    """Draw the seal into a form XObject on this canvas; returns the form's name for ``doForm``."""
    text = seal_text(city)
    columns = 3 if len(text) > 4 else 2
    rows = -(-len(text) // columns)
    canvas.beginForm(name, lowerx=0, lowery=0, upperx=SEAL_SIZE, uppery=SEAL_SIZE)
    canvas.saveState()
    canvas.setStrokeColor(SEAL_RED)
    canvas.setFillColor(SEAL_RED)
    canvas.setLineWidth(1.6)
    canvas.rect(0.8, 0.8, SEAL_SIZE - 1.6, SEAL_SIZE - 1.6, stroke=1, fill=0)
    canvas.setLineWidth(0.5)
    canvas.rect(2.6, 2.6, SEAL_SIZE - 5.2, SEAL_SIZE - 5.2, stroke=1, fill=0)
    inner = SEAL_SIZE - 8
    cell_w, cell_h = inner / columns, inner / rows
    size = min(cell_w, cell_h) * 0.92
    canvas.setFont(font, size)
    for index, char in enumerate(text):  # columns run right to left, characters top to bottom
        column, row = divmod(index, rows)
        x = 4 + inner - (column + 0.5) * cell_w
        y = 4 + inner - (row + 1) * cell_h + (cell_h - size) / 2 + size * 0.12
        canvas.drawCentredString(x, y, char)
    canvas.restoreState()
    canvas.endForm()
    return name
