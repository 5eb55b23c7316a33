from webmail.views.portal import WEBMAIL, brand_logo, branding

__all__ = ["WEBMAIL", "brand_logo", "branding"]
