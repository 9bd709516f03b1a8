"""`make bench`: each benchmark runs in its own process (so its peak memory is its own) and
measures its baseline in the same run; figures are medians of several runs."""
