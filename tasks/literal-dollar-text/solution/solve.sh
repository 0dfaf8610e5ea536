#!/bin/bash
set -e
cat > /app/motd.txt <<'END_OF_MOTD'
Welcome to $HOME -- today is $(date) and you are `whoami`.
Don't "expand" anything: C:\temp\new costs $5 & 100%.
END_OF_MOTD
