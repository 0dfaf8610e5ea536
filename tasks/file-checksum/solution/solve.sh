#!/bin/bash
set -e
sha256sum /app/release.tar.gz | cut -d' ' -f1 > /app/checksum.txt
