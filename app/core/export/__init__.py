"""Writing subsets out: names (txt, csv, json) or the files themselves (copies, links), never
inside the dataset or the project, atomically and resumably (``subset``)."""
