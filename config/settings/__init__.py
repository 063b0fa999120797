"""Holdfast settings: base.py holds everything, the others adjust it per environment."""
