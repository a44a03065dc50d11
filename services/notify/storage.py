"""Notify's own database. Subscriptions and deliveries arrive with the notify issue."""

from __future__ import annotations

from sqlalchemy import MetaData

from services.common.outbox import inbox_table, outbox_table

metadata = MetaData()
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
