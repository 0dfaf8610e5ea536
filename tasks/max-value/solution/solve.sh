#!/bin/bash
set -e
sort -n /app/readings.txt | tail -n 1 > /app/max.txt
