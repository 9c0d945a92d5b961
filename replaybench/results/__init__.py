"""What a run measured, in memory (RunRecord, Summary) and on disk (Parquet + manifest), and
reading runs back.
"""
