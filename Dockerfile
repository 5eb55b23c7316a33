# The application image: web (gunicorn), smtpd, Celery worker and beat, and the private
# Dovecot instance all run from it (see docker-compose.yml). Debian 12, Python 3.11.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MAILSUITE_DATA_DIR=/var/lib/mailsuite \
    MAILSUITE_STATIC_ROOT=/app/staticfiles

# Dovecot with the SQL, LMTP, Sieve and ManageSieve parts; gettext for the translations;
# the PostgreSQL client for backups and `manage.py dbshell`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-pgsql dovecot-sieve dovecot-managesieved rspamd \
      clamav-daemon clamav-freshclam \
      gettext postgresql-client openssl ca-certificates tini \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 5000 --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail \
 && useradd --system --uid 1000 --user-group --home-dir /app --no-create-home --shell /usr/sbin/nologin mailsuite

WORKDIR /app
COPY . .
RUN pip install -e . \
 && MAILSUITE_DEBUG=1 python manage.py compilemessages --ignore=.venv -v 0 \
 && MAILSUITE_DEBUG=1 python manage.py collectstatic --no-input -v 0 \
 && mkdir -p /var/lib/mailsuite/mail /var/lib/mailsuite/spool /var/lib/mailsuite/media /var/lib/mailsuite/dovecot \
 && chown vmail:vmail /var/lib/mailsuite/mail \
 && chown mailsuite:mailsuite /var/lib/mailsuite /var/lib/mailsuite/spool /var/lib/mailsuite/media

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["gunicorn", "mailsuite.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "4", "--worker-class", "gthread", "--threads", "8", "--access-logfile", "-"]
