"""Views: text, Rich, Mermaid/DOT and trace renderings of a plan or a finished report."""
