"""`python -m zoo.reproduce`: rewrite docs/reproductions.md from the committed JSON records."""

from zoo.reproduce.report import write_docs_page

if __name__ == "__main__":
    print(f"Wrote {write_docs_page()}")
