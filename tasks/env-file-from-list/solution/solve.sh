#!/bin/bash
set -e
sed 's/: /=/' /app/settings.txt > /app/.env
cat /app/.env
