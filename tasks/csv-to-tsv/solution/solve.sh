#!/bin/bash
set -e
tr ',' '\t' < /app/table.csv > /app/table.tsv
