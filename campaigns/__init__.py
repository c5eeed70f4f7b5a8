"""Campaigns: flows, scheduling rules, sending, short links, attribution and the dashboard."""
