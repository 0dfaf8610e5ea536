#!/bin/bash
set -e
mkdir -p /app/config
echo "mode=production" > /app/config/settings.ini
