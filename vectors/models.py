"""Vectors models."""
