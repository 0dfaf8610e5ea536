#!/bin/bash
set -e
tac /app/history.txt > /app/reversed.txt
