"""The A4 kiosk printer: print a 1-bit page raster, cut, and watch the outlet."""
from hal.printer.contract import (  # noqa: F401
    DocumentPresented, DocumentTaken, PageRaster, Printer, PrinterCapabilities, PrinterFault, PrinterState,
    PrinterStatus, PrinterStatusChanged, capabilities_of,
)
