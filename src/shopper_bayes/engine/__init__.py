"""Where rows are read, cleaned and aggregated: DuckDB (embedded) or Spark; see ``engine.base``."""
