"""Talks to the host through a Unix socket and a FIFO on the grader's filesystem."""
import os
import socket


def build_model(input_size, hidden_sizes, output_size, dropout_rate=0.0):
    said = []
    try:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(2)
        sock.connect("@SOCKET@")
        sock.sendall(b"hello from the sandbox")
        said.append("socket")
    except OSError as err:
        said.append(type(err).__name__)
    try:
        fd = os.open("@FIFO@", os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"hello from the sandbox")
        said.append("fifo")
    except OSError as err:
        said.append(type(err).__name__)
    raise ValueError(f"talked={said}")
