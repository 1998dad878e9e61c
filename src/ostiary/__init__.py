"""Ostiary: single sign-on at the reverse proxy."""

__version__ = "0.1.0"
