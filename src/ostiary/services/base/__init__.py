"""Plumbing every room of the service layer shares; imports no other room."""
