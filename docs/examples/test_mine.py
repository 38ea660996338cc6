"""Your strategy against the built-in one with the same loop (readinto), in your own test suite
(pip install streambench gives the fixture)."""


def test_mine_keeps_up_with_readinto(streambench):
    runs = streambench.run("readinto", "./mine.py:Mine", workload="csv:64MiB", sink="null", rounds=15)
    mine = runs["./mine.py:Mine"]
    assert mine.peak_rss_bytes < 32 << 20
    vs = streambench.compare(runs["readinto"], mine, fail_on="10%")
    assert vs.throughput.judgement != "worse", vs.throughput.interval_text()
