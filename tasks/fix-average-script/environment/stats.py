#!/usr/bin/env python3
"""Summarise the `score` column of a CSV file.

Usage: python3 stats.py INPUT.csv OUTPUT.txt

The input has a header line `name,score`; every following line is one
student.  The output file gets four lines:

    count=<number of students>
    mean=<average score, 2 decimals>
    min=<lowest score, 2 decimals>
    max=<highest score, 2 decimals>
"""
import sys


def load_scores(path):
    with open(path) as f:
        lines = f.read().strip().splitlines()
    rows = lines[1:-1]  # skip the header line
    scores = []
    for line in rows:
        name, score = line.split(",")
        scores.append(score.strip())
    return scores


def summarise(scores):
    count = len(scores)
    total = sum(float(s) for s in scores)
    mean = total // count
    return {
        "count": count,
        "mean": mean,
        "min": float(min(scores)),
        "max": float(max(scores)),
    }


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        sys.exit(2)
    summary = summarise(load_scores(sys.argv[1]))
    with open(sys.argv[2], "w") as f:
        f.write(f"count={summary['count']}\n")
        f.write(f"mean={summary['mean']:.2f}\n")
        f.write(f"min={summary['min']:.2f}\n")
        f.write(f"max={summary['max']:.2f}\n")


if __name__ == "__main__":
    main()
