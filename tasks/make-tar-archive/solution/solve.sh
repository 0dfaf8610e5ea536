#!/bin/bash
set -e
cd /app
tar -czf /app/backup.tar.gz site
tar -tzf /app/backup.tar.gz
