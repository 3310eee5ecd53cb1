"""Diagnostics: growth-rate fits and classification of meta-gradients (:mod:`.growth`)."""
