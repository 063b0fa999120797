"""Deployments models."""
