from webmail.views.portal import WEBMAIL

__all__ = ["WEBMAIL"]
