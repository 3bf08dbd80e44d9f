"""bench/sampling.py counts the samples of its recorded loop that fell in the round trip."""

from bench.sampling import share_in_round_trip

LOOP = "<module> (bench/sampling.py:1);_bootstrap (multiprocessing/process.py:314);loop (bench/sampling.py:45)"


def test_the_share_counts_only_the_loops_samples(tmp_path):
    raw = tmp_path / "spy.txt"
    raw.write_text("\n".join([
        f"{LOOP};round_trip (bench/sampling.py:30) 30",
        f"{LOOP};round_trip (bench/sampling.py:31);fetchone (psycopg2) 10",
        f"{LOOP};compute (bench/sampling.py:36) 60",
        "<module> (bench/sampling.py:1);spin (bench/sampling.py:50) 500",  # not the recorded loop
    ]) + "\n")
    assert share_in_round_trip(raw) == (0.4, 100)
