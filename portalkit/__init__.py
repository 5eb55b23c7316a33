"""What every portal shares on the web (see docs/architecture.md): the login flow (password,
TOTP step, forced enrolment, forced password change, logout; each portal mounts the views with its
own `Portal`, see portalkit/portal.py), the portal-session check, the message renderer
(portalkit.rendering) and the domain's branding (portalkit.branding).

Sessions: logging into one portal does not log the user into the others. The session keeps
the list of portals entered (`mailsuite_portals`); `portal_login_required` checks that list,
so a session opened at /mailadmin/ is not accepted by /webmail/ (it asks for the password
again, in the same session). Logout ends the whole session, for every portal.
"""
