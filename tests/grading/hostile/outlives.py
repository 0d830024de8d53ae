"""Leaves a detached process behind (its own session, reparented), then hangs."""
import os
import time

if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "@SLEEP@"])
    os._exit(0)


def build_model(input_size, hidden_sizes, output_size, dropout_rate=0.0):
    while True:
        time.sleep(1)
