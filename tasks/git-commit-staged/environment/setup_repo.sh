#!/bin/bash
# Builds /app/repo with a short, deterministic history and some staged changes.
set -e
export GIT_AUTHOR_NAME="Pat Pages" GIT_AUTHOR_EMAIL="pat@example.com"
export GIT_COMMITTER_NAME="Pat Pages" GIT_COMMITTER_EMAIL="pat@example.com"
n=0
commit() {
    n=$((n + 1))
    export GIT_AUTHOR_DATE="2024-05-0${n}T09:30:00+00:00" GIT_COMMITTER_DATE="2024-05-0${n}T09:30:00+00:00"
    git commit -q -m "$1"
}
mkdir -p /app/repo && cd /app/repo
git init -q -b main .
git config user.name "Pat Pages"
git config user.email "pat@example.com"

cat > index.html <<'EOT'
<!DOCTYPE html>
<html>
<head><title>Tiny Site</title></head>
<body>
<h1>Tiny Site</h1>
<p>Welcome to the tiny site.</p>
</body>
</html>
EOT
cat > README.md <<'EOT'
# tiny-site
A very small static web site.
EOT
git add index.html README.md
commit "Initial commit"

mkdir -p css
cat > css/style.css <<'EOT'
body { font-family: sans-serif; margin: 2em; }
h1 { color: #225; }
EOT
git add css/style.css
commit "Add stylesheet"

# The changes below are staged but not committed.
cat > greeting.html <<'EOT'
<!DOCTYPE html>
<html>
<head><title>Hello</title></head>
<body>
<h1>Hello, visitor!</h1>
<p>Thanks for stopping by.</p>
<p><a href="index.html">Back to the start page</a></p>
</body>
</html>
EOT
cat > index.html <<'EOT'
<!DOCTYPE html>
<html>
<head><title>Tiny Site</title></head>
<body>
<h1>Tiny Site</h1>
<p>Welcome to the tiny site.</p>
<p><a href="greeting.html">Say hello</a></p>
</body>
</html>
EOT
git add greeting.html index.html
