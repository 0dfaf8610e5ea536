#!/bin/bash
set -e
sort -n /app/scores.txt > /app/sorted_scores.txt
