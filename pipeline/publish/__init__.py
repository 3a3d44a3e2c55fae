"""What the pipeline hands out as files: the indicator exports (CSV, Parquet, XLSX), the
districts' quality reports with rejections.csv and delivery_log.csv, and the reporting-rate
table. Every CSV goes through pipeline.tables.write_csv (the one CSV writer)."""
