"""One screen per visit state (and the thank-you, staff PIN and maintenance screens)."""
