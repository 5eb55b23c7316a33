#!/usr/bin/env bash
# Set-up shared by `make run` and `make test`, for a fresh Debian 12 machine as root.
# Idempotent: installs only what is missing, starts PostgreSQL and Redis only if they do not answer.
#   scripts/setup.sh [--test]     (--test also installs what the tests need: chromium, swaks,
#                                  clamav-daemon, and Node's axe-core for the accessibility tests,
#                                  npm ci into node_modules/)
# ClamAV is optional for `make run` (MAILSUITE_CLAMAV, docs/operations.md): not installed here.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
MODE="${1:-}"
log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

need_root() { [ "$(id -u)" = 0 ] || { echo "run as root (installs Debian packages, starts services)" >&2; exit 1; }; }

# 1. Debian packages ---------------------------------------------------------------------------
PKGS=(postgresql redis-server dovecot-core dovecot-imapd dovecot-pop3d dovecot-lmtpd dovecot-pgsql
      dovecot-sieve dovecot-managesieved rspamd gettext openssl python3-venv ca-certificates)
if [ "$MODE" = "--test" ]; then
  # libwbxml2-utils: an independent WBXML encoder/decoder the ActiveSync tests check against.
  # clamav-daemon: the ClamAV tests run their own clamd with a signature database they write.
  PKGS+=(chromium swaks libwbxml2-utils clamav-daemon)
  # Node and npm for axe-core (tests/e2e/test_accessibility.py); a machine with its own node keeps it.
  command -v node >/dev/null && command -v npm >/dev/null || PKGS+=(nodejs npm)
fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# A machine whose PostgreSQL or Redis comes from elsewhere but answers does not need the package.
if pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then missing=("${missing[@]/postgresql}"); fi
if redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then missing=("${missing[@]/redis-server}"); fi
read -r -a missing <<<"${missing[*]:-}"
if [ "${#missing[@]}" -gt 0 ]; then
  need_root
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # The packaged Dovecot service would take ports 143/993/110/995; the suite runs its own instance.
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now dovecot >/dev/null 2>&1 || true
    systemctl disable --now rspamd >/dev/null 2>&1 || true
    systemctl disable --now clamav-daemon clamav-freshclam >/dev/null 2>&1 || true
  else
    service dovecot stop >/dev/null 2>&1 || true
    service rspamd stop >/dev/null 2>&1 || true
    service clamav-daemon stop >/dev/null 2>&1 || true
    service clamav-freshclam stop >/dev/null 2>&1 || true
  fi
fi

# 2. PostgreSQL and Redis, started only if they do not answer ------------------------------------
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  ver="$(ls /etc/postgresql | sort -V | tail -1)"
  pg_ctlcluster --skip-systemctl-redirect "$ver" main start
  for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
fi
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/mailsuite.log
  for _ in $(seq 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done
fi

# 3. Development mode, database role and database -------------------------------------------------
touch .env
# Settings default to production (DEBUG off, secrets required); this machine is a development one.
if ! grep -q '^MAILSUITE_DEBUG=' .env; then
  echo "MAILSUITE_DEBUG=1" >> .env
fi
if ! grep -q '^MAILSUITE_DATABASE_URL=' .env; then
  if psql -h 127.0.0.1 -U postgres -d postgres -tAc 'select 1' >/dev/null 2>&1; then
    echo "MAILSUITE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/mailsuite" >> .env
  else
    # Fresh Debian: loopback needs a password. A role of our own, allowed to create the test database.
    pw="$(openssl rand -hex 16)"
    runuser -u postgres -- psql -q -c "DO \$\$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='mailsuite') THEN CREATE ROLE mailsuite LOGIN CREATEDB CREATEROLE; END IF; END\$\$;"
    runuser -u postgres -- psql -q -c "ALTER ROLE mailsuite PASSWORD '$pw'"
    echo "MAILSUITE_DATABASE_URL=postgres://mailsuite:$pw@127.0.0.1:5432/mailsuite" >> .env
  fi
fi
DBURL="$(grep '^MAILSUITE_DATABASE_URL=' .env | tail -1 | cut -d= -f2-)"
if ! psql "${DBURL%/*}/postgres" -tAc "select 1 from pg_database where datname='mailsuite'" | grep -q 1; then
  log "creating database mailsuite"
  psql "${DBURL%/*}/postgres" -q -c "CREATE DATABASE mailsuite" ||
    runuser -u postgres -- psql -q -c "CREATE DATABASE mailsuite OWNER mailsuite"
fi

# 4. System user owning the mail store -----------------------------------------------------------
if ! id vmail >/dev/null 2>&1; then
  need_root
  log "creating system user vmail"
  useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin vmail
fi

# 5. Python virtualenv ---------------------------------------------------------------------------
PY="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  log "creating virtualenv with $($PY --version)"
  "$PY" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -f "$stamp" ]; then
  log "installing Python dependencies"
  mkdir -p var
  # Quiet unless it fails: the build backend's warnings would bury the useful output.
  if ! { .venv/bin/pip install -q --upgrade pip && .venv/bin/pip install -q -e ".[test]"; } >var/pip-install.log 2>&1; then
    cat var/pip-install.log >&2; echo "pip install failed (log: var/pip-install.log)" >&2; exit 1
  fi
  rm -f .venv/.installed-* && touch "$stamp"
fi

# 6. Django: translations, migrations, static files ----------------------------------------------
# (compilemessages fails when there is no catalogue at all, as in a clone before the first translation)
if [ -n "$(find . -path ./.venv -prune -o -name '*.po' -print -quit)" ]; then
  log "compiling translations"
  .venv/bin/python manage.py compilemessages --ignore=.venv -v 0
fi
# 7. Node tools of the browser tests (axe-core), exactly as package-lock.json pins them -----------
if [ "$MODE" = "--test" ]; then
  lockstamp="node_modules/.installed-$(sha256sum package-lock.json | cut -c1-16)"
  if [ ! -f "$lockstamp" ]; then
    log "installing Node test tools (npm ci)"
    npm ci --no-audit --no-fund --loglevel=error
    touch "$lockstamp"
  fi
fi
if [ "$MODE" != "--test" ]; then
  log "migrating the database"
  .venv/bin/python manage.py migrate --no-input -v 0
fi
log "set-up done"
