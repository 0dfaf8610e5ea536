#!/bin/bash
set -e
sed -i 's/foo/bar/g' /app/notes.txt
