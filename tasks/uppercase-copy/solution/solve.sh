#!/bin/bash
set -e
tr 'a-z' 'A-Z' < /app/quiet.txt > /app/shout.txt
