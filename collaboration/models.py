"""Collaboration models."""
