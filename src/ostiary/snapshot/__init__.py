"""The in-memory view the gate answers from, and the follower that keeps it
current from the change log."""

from ostiary.snapshot.model import AppView, DomainView, Snapshot, TenantView, UserView

__all__ = ["AppView", "DomainView", "Snapshot", "TenantView", "UserView"]
