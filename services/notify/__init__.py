"""Notify: every change reaches the customer and the organisation."""
