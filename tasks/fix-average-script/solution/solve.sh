#!/bin/bash
set -e
# 1) the header is the only line to skip (the last data row was dropped)
sed -i 's/rows = lines\[1:-1\]/rows = lines[1:]/' /app/stats.py
# 2) true division instead of floor division
sed -i 's|mean = total // count|mean = total / count|' /app/stats.py
# 3) compare scores as numbers, not as strings
sed -i 's/scores.append(score.strip())/scores.append(float(score))/' /app/stats.py
python3 /app/stats.py /app/scores.csv /app/report.txt
cat /app/report.txt
