#!/bin/bash
set -e
sed -i 's/^def total(parts)$/def total(parts):/' /app/calc.py
python3 /app/calc.py
