from streambench.harness.cli import entry

entry()
