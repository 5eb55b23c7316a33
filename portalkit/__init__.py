"""What every portal shares on the web (see docs/architecture.md): the message renderer
(portalkit.rendering) and the domain's branding (portalkit.branding)."""
