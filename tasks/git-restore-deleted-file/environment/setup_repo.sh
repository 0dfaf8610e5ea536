#!/bin/bash
# Builds /app/repo with a short, deterministic history.
set -e
export GIT_AUTHOR_NAME="Dana Dev" GIT_AUTHOR_EMAIL="dana@example.com"
export GIT_COMMITTER_NAME="Dana Dev" GIT_COMMITTER_EMAIL="dana@example.com"
n=0
commit() {
    n=$((n + 1))
    export GIT_AUTHOR_DATE="2024-03-0${n}T10:00:00+00:00" GIT_COMMITTER_DATE="2024-03-0${n}T10:00:00+00:00"
    git commit -q -m "$1"
}
mkdir -p /app/repo && cd /app/repo
git init -q -b main .
git config user.name "Agent"
git config user.email "agent@example.com"

cat > README.md <<'EOT'
# weather-fetcher
Fetches weather data and stores it locally.
EOT
cat > config.yaml <<'EOT'
server:
  host: 0.0.0.0
  port: 8080
storage:
  path: /var/lib/weather
EOT
git add README.md config.yaml
commit "Initial commit"

cat > config.yaml <<'EOT'
server:
  host: 0.0.0.0
  port: 8443
  tls: true
storage:
  path: /var/lib/weather
  retention_days: 30
api:
  provider: open-meteo
  timeout_seconds: 15
EOT
git add config.yaml
commit "Enable TLS and configure API provider"

mkdir -p src
cat > src/fetch.py <<'EOT'
def fetch(city):
    raise NotImplementedError(city)
EOT
git add src/fetch.py
commit "Add fetch stub"

git rm -q config.yaml
commit "Clean up old files"

cat >> README.md <<'EOT'

Run `python3 src/fetch.py CITY` to fetch the current weather.
EOT
git add README.md
commit "Document usage"

cat > config.yaml <<'EOT'
# placeholder - the real configuration was lost
EOT
