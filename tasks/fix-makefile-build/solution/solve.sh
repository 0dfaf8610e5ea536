#!/bin/bash
set -e
cd /app/calc
cat > Makefile <<'MK'
CC = gcc
CFLAGS = -O2 -Wall -Isrc
LDLIBS = -lm
OBJS = build/main.o build/ops.o

.PHONY: all clean

all: bin/calc

bin/calc: $(OBJS)
	@mkdir -p bin
	$(CC) $(CFLAGS) -o $@ $(OBJS) $(LDLIBS)

build/%.o: src/%.c src/ops.h
	@mkdir -p build
	$(CC) $(CFLAGS) -c $< -o $@

clean:
	rm -rf build bin
MK
make clean
make
./bin/calc hypot 3 4
