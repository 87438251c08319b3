"""What the tests share that is not a fixture: clients, live servers, backends, proxies.

Fixtures live in tests/conftest.py (and in plugins it registers through
`pytest_plugins`); test files import helpers from here, never from conftest.py
or from another test file.
"""
