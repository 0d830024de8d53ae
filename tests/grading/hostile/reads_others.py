"""Reads another student's submission, the reference solution and the grader's own code by
absolute path."""


def build_model(input_size, hidden_sizes, output_size, dropout_rate=0.0):
    seen = []
    for path in ["@OTHER@", "@SOLUTION@", "@GRADER@"]:
        try:
            with open(path) as f:
                seen.append(f.read()[:60])
        except OSError as err:
            seen.append(type(err).__name__)
    raise ValueError(f"read={seen}")
