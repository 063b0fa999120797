"""Billing models."""
