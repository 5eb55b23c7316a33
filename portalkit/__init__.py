"""Web login shared by the portals: password, TOTP step, forced enrolment, forced password
change, logout. Each portal mounts the views with its own `Portal` (who may enter, where to go
after, which template and branding); see portalkit/portal.py.

Sessions: logging into one portal does not log the user into the others. The session keeps
the list of portals entered (`mailsuite_portals`); `portal_login_required` checks that list,
so a session opened at /mailadmin/ is not accepted by /webmail/ (it asks for the password
again, in the same session). Logout ends the whole session, for every portal.
"""
