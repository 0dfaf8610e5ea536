"""Computes the answer from a small table of parts."""

PARTS = [
    ("bolts", 3, 4),
    ("nuts", 5, 2),
    ("washers", 2, 5),
    ("screws", 1, 10),
]


def weight(count, unit):
    return count * unit


def total(parts)
    result = 0
    for _name, count, unit in parts:
        result += weight(count, unit)
    return result


def main():
    answer = total(PARTS)
    print(answer)


if __name__ == "__main__":
    main()
