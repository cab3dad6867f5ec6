"""Probes: each reads one part of the machine through a filesystem root and returns frozen facts.

A probe never raises for something missing; absence is a fact.
"""
