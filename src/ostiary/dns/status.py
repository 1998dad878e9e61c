"""A protected domain's states (docs/contract.md §6), named once: the store
keeps them in `domains.status`, the rules in dns/ move between them, and the
services, the snapshot, the pages and the metrics read them. Imports nothing."""

from __future__ import annotations

from enum import StrEnum


class DomainStatus(StrEnum):
    PENDING = "pending"  # registered; its TXT record not found yet, so nothing is served
    VERIFIED = "verified"  # the TXT record was found: the domain and its portal host are served
    FAILED = "failed"  # the operator's last check did not find the record; nothing is served
    # Never stored: a verified domain whose record went missing at a re-check keeps "verified"
    # with `flagged_at` set, and is still served until the grace period ends.
    FLAGGED = "flagged"
    DISABLED = "disabled"  # flagged for longer than the grace period: nothing is served

