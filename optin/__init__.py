"""Opt-in: contacts (phone numbers), consent proof, matching visitors to contacts, keywords."""
