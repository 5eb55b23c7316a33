"""The control panel (mailadmin portal): thin views over domains.selectors and services."""
