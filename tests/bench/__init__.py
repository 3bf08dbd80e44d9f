"""Tests of the benchmarks' own logic (bench/): what decides whether a benchmark passes."""
