"""Built-in corpora built on demand from registry packages (WordNet so far; see explorer.datasets)."""
