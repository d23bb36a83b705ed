"""The certificate domain shared by the kiosk and the server: the seven certificate types, their options and
fees, the eligibility reason codes, the kiosk↔server wire contract, and the signed document envelope.

This package imports nothing else of the project's.
"""
