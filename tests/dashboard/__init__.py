"""Tests of the live dashboard (calfload.dashboard)."""
