"""Your strategy against pipe, in your own test suite (pip install streambench gives the fixture)."""


def test_mine_keeps_up_with_pipe(streambench):
    runs = streambench.run("pipe", "./mine.py:Mine", workload="csv:8MiB", sink="null", rounds=7)
    mine = runs["./mine.py:Mine"]
    assert mine.peak_rss_bytes < 32 << 20
    vs = streambench.compare(runs["pipe"], mine, fail_on="10%")
    assert vs.throughput.judgement != "worse", vs.throughput.interval_text()
