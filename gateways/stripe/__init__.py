"""Stripe adapters (konbini only so far) and webhook signature verification.

Everything goes through the official ``stripe`` SDK pinned in pyproject.toml, with the API version set
explicitly so an SDK upgrade can never silently change the wire format (reference "API version matters").
"""
