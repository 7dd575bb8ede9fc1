from vidsync.cli.main import run

run()
