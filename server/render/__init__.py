"""PDF rendering of certificates (reportlab, A4, embedded IPAex TrueType fonts)."""
