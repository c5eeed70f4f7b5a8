"""A third SMS provider, "Example", written as a provider folder of
``retargeting/gateways/`` would be: it shows (and ``tests/gateways/test_example_provider.py``
proves) that adding a provider is one folder plus one registry line.

Its carrier is ``carrier.py``, a stand-in for the vendor's API kept in the test process; the
rest (gateway, error table, settings check, signed webhook) is what a real provider's folder
holds.
"""
